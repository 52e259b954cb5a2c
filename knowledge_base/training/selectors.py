"""Reads that views, reports and the dashboard share, each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from portal import access
from portal.members.models import MemberLibrary, Membership
from portal.reports import ReportPerson, report_people

from .models import (
    Certificate,
    CoursePage,
    Enrolment,
    LessonPage,
    LessonProgress,
    Quiz,
    QuizAttempt,
)
from .rules import REPORT, TAKE

COMPLETED = Enrolment.State.COMPLETED


def my_assigned(user, limit: int = 10) -> list[Enrolment]:
    """Unfinished current enrolments, soonest due first (the dashboard panel)."""
    return list(
        Enrolment.objects.filter(user=user, current=True)
        .exclude(state=COMPLETED)
        .select_related("course")
        .order_by("due", "course__title")[:limit]
    )


def transcript(user) -> dict:
    enrolments = list(
        Enrolment.objects.filter(user=user)
        .select_related("course", "library", "completion__certificate")
        .order_by("-current", "course__title", "-cycle")
    )
    return {
        "enrolments": enrolments,
        "certificates": list(
            Certificate.objects.filter(user=user).order_by("-issued_at").select_related("course")
        ),
    }


# --- taking a course -------------------------------------------------------------------


def library_for_taking(user, course: CoursePage | None = None) -> MemberLibrary | None:
    """The library a person takes a course for: their first membership that allows it."""
    for membership in access.memberships_of(user):
        if access.can(user, TAKE, membership.library):
            return membership.library
    return None


def current_enrolment(user, course: CoursePage) -> Enrolment | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return with_own_library(user, _current_row(user, course))


def _current_row(user, course: CoursePage) -> Enrolment | None:
    return Enrolment.objects.filter(user=user, course=course, current=True).first()


def with_own_library(user, enrolment: Enrolment | None) -> Enrolment | None:
    """The enrolment with its library taken from the person's memberships where it is one
    of theirs. Taking a lesson checks the permission at the enrolment's library: nearly
    always one of the person's own, read with their standing; any other is read when
    asked."""
    if enrolment is not None:
        own = {m.library_id: m.library for m in access.memberships_of(user)}
        if enrolment.library_id in own:
            enrolment.library = own[enrolment.library_id]
    return enrolment


def taking(user, lesson: LessonPage) -> tuple[Enrolment | None, LessonProgress | None]:
    """The person's current enrolment in the lesson's course and their progress on the
    lesson: rows of their own only, nothing attached, so that the lesson page can keep
    them between visits (``views.courses``)."""
    enrolment = _current_row(user, lesson.course)
    return enrolment, progress_on(enrolment, lesson) if enrolment else None


def progress_on(enrolment: Enrolment, lesson: LessonPage) -> LessonProgress | None:
    return LessonProgress.objects.filter(enrolment=enrolment, lesson=lesson).first()


def lessons_done(enrolment: Enrolment) -> set[int]:
    return set(
        enrolment.progress.filter(completed_at__isnull=False).values_list("lesson_id", flat=True)
    )


def resume_target(enrolment: Enrolment, lessons: list[LessonPage]):
    """The first lesson not yet done, or None when only the quiz (or nothing) is left."""
    done = lessons_done(enrolment)
    for lesson in lessons:
        if lesson.pk not in done:
            return lesson
    return None


def quiz_of(course: CoursePage) -> Quiz | None:
    return Quiz.objects.filter(course=course).first()


def attempts_left(enrolment: Enrolment, quiz: Quiz) -> int | None:
    if quiz.max_attempts is None:
        return None
    used = QuizAttempt.objects.filter(
        enrolment=enrolment, quiz=quiz, submitted_at__isnull=False
    ).count()
    return max(quiz.max_attempts - used, 0)


# --- reports -------------------------------------------------------------------------


def report_libraries(user):
    """The libraries whose training report ``user`` may see."""
    return access.libraries_for(user, REPORT).order_by("path")


@dataclass
class LibraryReport:
    library: MemberLibrary
    people: list[ReportPerson]
    courses: list[CoursePage]
    cells: dict[tuple[int, int], Enrolment] = field(default_factory=dict)

    def rows(self):
        for person in self.people:
            yield person, [self.cells.get((person.user_id, c.pk)) for c in self.courses]

    def totals(self) -> dict[str, int]:
        counts = {"completed": 0, "in_progress": 0, "overdue": 0, "enrolled": 0}
        for enrolment in self.cells.values():
            counts[enrolment.status] += 1
        counts["assigned"] = len(self.cells)
        return counts


def library_report(library: MemberLibrary) -> LibraryReport:
    """Everyone holding a role on ``library`` or its branches × their current courses.

    People are chosen by membership, so a director never sees another library's staff;
    a course finished before someone moved here still counts (it travels with them).
    """
    people = report_people(library)
    ids = [p.user_id for p in people]
    enrolments = list(
        Enrolment.objects.filter(user_id__in=ids, current=True)
        .select_related("course")
        .order_by("course__title")
    )
    courses: dict[int, CoursePage] = {}
    cells = {}
    for enrolment in enrolments:
        courses.setdefault(enrolment.course_id, enrolment.course)
        cells[(enrolment.user_id, enrolment.course_id)] = enrolment
    return LibraryReport(library, people, list(courses.values()), cells)


@dataclass
class OfficeRow:
    library: MemberLibrary
    people: int = 0
    assigned: int = 0
    completed: int = 0
    in_progress: int = 0
    overdue: int = 0
    not_started: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.assigned) if self.assigned else 0


def office_report(libraries=None) -> list[OfficeRow]:
    """Every library with its totals, in three queries however many there are."""
    today = timezone.localdate()
    libraries = list((libraries or MemberLibrary.objects.all()).order_by("path"))
    rows = {lib.pk: OfficeRow(lib) for lib in libraries}
    people = (
        Membership.objects.filter(library_id__in=rows)
        .values("library_id")
        .annotate(n=Count("user_id", distinct=True))
    )
    for row in people:
        rows[row["library_id"]].people = row["n"]
    late = Q(due__lt=today) & ~Q(state=COMPLETED)
    counts = (
        Enrolment.objects.filter(current=True, library_id__in=rows)
        .values("library_id")
        .annotate(
            assigned=Count("pk"),
            completed=Count("pk", filter=Q(state=COMPLETED)),
            overdue=Count("pk", filter=late),
            in_progress=Count("pk", filter=Q(state=Enrolment.State.IN_PROGRESS) & ~late),
            not_started=Count("pk", filter=Q(state=Enrolment.State.ENROLLED) & ~late),
        )
    )
    for row in counts:
        target = rows[row.pop("library_id")]
        for key, value in row.items():
            setattr(target, key, value)
    return list(rows.values())


def office_totals(rows: list[OfficeRow]) -> OfficeRow:
    total = OfficeRow(library=None)
    for row in rows:
        for key in ("people", "assigned", "completed", "in_progress", "overdue", "not_started"):
            setattr(total, key, getattr(total, key) + getattr(row, key))
    return total
