"""Writes, as check_* (validate input and access, take row locks) then do_* (change,
and schedule side effects on commit)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit import services as audit
from portal.background import enqueue
from portal.dates import add_months
from portal.members.models import MemberLibrary, Membership
from portal.members.roles import definitions
from portal.signals import course_completed

from .models import (
    Assignment,
    Certificate,
    Completion,
    CoursePage,
    Enrolment,
    LessonPage,
    LessonProgress,
    Quiz,
    QuizAttempt,
    ReminderSent,
)

TAKE = "training.take_courses"
ASSIGN = "training.assign_courses"
REPORT = "training.view_training_report"
MANAGE = "training.manage_courses"

# Re-certification opens the new cycle this long before the old certificate expires.
RECERTIFY_LEAD = timedelta(days=30)


class TrainingError(Exception):
    """A rule of the course was not met; the message is shown to the person."""


class AttemptsExhausted(TrainingError):
    pass


# --- helpers -------------------------------------------------------------------------


def library_for_taking(user, course: CoursePage | None = None) -> MemberLibrary | None:
    """The library a person takes a course for: their first membership that allows it."""
    for membership in access.memberships_of(user):
        if access.can(user, TAKE, membership.library):
            return membership.library
    return None


def current_enrolment(user, course: CoursePage) -> Enrolment | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Enrolment.objects.filter(user=user, course=course, current=True).first()


def _lock(enrolment: Enrolment) -> Enrolment:
    return Enrolment.objects.select_for_update().select_related("course").get(pk=enrolment.pk)


# --- enrolment -----------------------------------------------------------------------


def check_enrol(user, course: CoursePage, library: MemberLibrary | None = None) -> MemberLibrary:
    """A person enrolling themselves: may take courses for ``library``, prerequisites done."""
    library = library or library_for_taking(user, course)
    if library is None or not access.can(user, TAKE, library):
        raise PermissionDenied
    if not course.live:
        raise TrainingError(_("This course is not published."))
    prerequisites = list(course.prerequisites.all())
    if prerequisites:
        done = set(
            Completion.objects.filter(user=user, course__in=prerequisites).values_list(
                "course_id", flat=True
            )
        )
        missing = [c.title for c in prerequisites if c.pk not in done]
        if missing:
            raise TrainingError(
                _("Complete these courses first: %(courses)s") % {"courses": ", ".join(missing)}
            )
    return library


def do_enrol(
    user,
    course: CoursePage,
    library: MemberLibrary,
    *,
    assignment: Assignment | None = None,
    assigned_by=None,
    due: date | None = None,
) -> Enrolment:
    """The person's current enrolment in ``course``, made if there is none."""
    with transaction.atomic():
        enrolment, created = Enrolment.objects.get_or_create(
            user=user,
            course=course,
            current=True,
            defaults={
                "library": library,
                "assignment": assignment,
                "assigned_by": assigned_by,
                "due": due,
            },
        )
        if created:
            audit.record_on_commit(
                "training.enrolled",
                actor=assigned_by or user,
                library=library,
                obj=enrolment,
                data={"course": course.pk, "user": user.pk, "due": due},
            )
    return enrolment


# --- assignment ----------------------------------------------------------------------


@dataclass
class AssignmentRequest:
    course: CoursePage
    library: MemberLibrary
    roles: list[str] = field(default_factory=list)
    libraries: list[MemberLibrary] = field(default_factory=list)
    people: list = field(default_factory=list)
    due_on: date | None = None
    days_to_complete: int = 30


def check_assign(actor, request: AssignmentRequest) -> AssignmentRequest:
    """The office, or a library's director or trainer, within the library's subtree only."""
    if not access.can(actor, ASSIGN, request.library):
        raise PermissionDenied
    if not request.course.live:
        raise TrainingError(_("This course is not published."))
    unknown = [r for r in request.roles if r not in definitions()]
    if unknown:
        raise TrainingError(_("Unknown roles: %(roles)s") % {"roles": ", ".join(unknown)})
    if not (request.roles or request.libraries or request.people):
        raise TrainingError(_("Choose roles, libraries or people to assign the course to."))
    for library in request.libraries:
        if not library.path.startswith(request.library.path):
            raise PermissionDenied
    if request.people:
        inside = set(
            Membership.objects.filter(
                user__in=request.people, library__path__startswith=request.library.path
            ).values_list("user_id", flat=True)
        )
        if any(p.pk not in inside for p in request.people):
            raise PermissionDenied
    if request.due_on and request.due_on < timezone.localdate():
        raise TrainingError(_("The due date has passed."))
    return request


def do_assign(actor, request: AssignmentRequest) -> Assignment:
    with transaction.atomic():
        assignment = Assignment.objects.create(
            course=request.course,
            library=request.library,
            roles=list(request.roles),
            due_on=request.due_on,
            days_to_complete=request.days_to_complete,
            assigned_by=actor,
        )
        assignment.libraries.set(request.libraries)
        assignment.people.set(request.people)
        count = enrol_assignment(assignment)
        audit.record_on_commit(
            "training.assigned",
            actor=actor,
            library=request.library,
            obj=assignment,
            data={
                "course": request.course.pk,
                "roles": list(request.roles),
                "libraries": [lib.pk for lib in request.libraries],
                "people": [p.pk for p in request.people],
                "due_on": request.due_on,
                "enrolled": count,
            },
        )
    return assignment


def _targets(assignment: Assignment) -> list[str]:
    """Subtrees the standing rule covers: its libraries, or the assigning library's."""
    return [lib.path for lib in assignment.libraries.all()] or [assignment.library.path]


def enrol_assignment(assignment: Assignment) -> int:
    """Enrol everyone the assignment targets now; returns how many were newly enrolled."""
    targets: dict[int, int] = {}
    paths = _targets(assignment)
    if assignment.roles or assignment.libraries.exists():
        memberships = Membership.objects.filter(
            Q.create([("library__path__startswith", p) for p in paths], connector=Q.OR)
        )
        if assignment.roles:
            memberships = memberships.filter(role__in=assignment.roles)
        for user_id, library_id in memberships.order_by("pk").values_list("user_id", "library_id"):
            targets.setdefault(user_id, library_id)
    people = list(assignment.people.values_list("pk", flat=True))
    if people:
        for user_id, library_id in (
            Membership.objects.filter(
                user_id__in=people, library__path__startswith=assignment.library.path
            )
            .order_by("pk")
            .values_list("user_id", "library_id")
        ):
            targets.setdefault(user_id, library_id)
    if not targets:
        return 0
    enabled = _enabled_library_ids(set(targets.values()))
    already = set(
        Enrolment.objects.filter(
            course=assignment.course, current=True, user_id__in=targets
        ).values_list("user_id", flat=True)
    )
    due = assignment.due_for_newcomer()
    created = Enrolment.objects.bulk_create(
        [
            Enrolment(
                user_id=user_id,
                course_id=assignment.course_id,
                library_id=library_id,
                assignment=assignment,
                assigned_by_id=assignment.assigned_by_id,
                due=due,
            )
            for user_id, library_id in targets.items()
            if user_id not in already and library_id in enabled
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return len(created)


def _enabled_library_ids(library_ids: set[int]) -> set[int]:
    from portal.members.switches import enabled_plugins_by_library

    libraries = MemberLibrary.objects.filter(pk__in=library_ids)
    return {
        pk for pk, labels in enabled_plugins_by_library(libraries).items() if "training" in labels
    }


def do_follow_membership(membership: Membership) -> list[Enrolment]:
    """Someone joined or moved: enrol them under every standing assignment they now fall
    under, and move their unfinished enrolments to the new library."""
    library = membership.library
    # Asked afresh: a library object kept in memory may hold an older answer.
    if library.pk not in _enabled_library_ids({library.pk}):
        return []
    enrolled = []
    with transaction.atomic():
        ancestors = library.ancestor_paths()
        candidates = (
            Assignment.objects.filter(active=True, course__live=True)
            .filter(Q(libraries__path__in=ancestors) | Q(library__path__in=ancestors))
            .select_related("library", "course")
            .prefetch_related("libraries")
            .distinct()
        )
        for assignment in candidates:
            paths = [lib.path for lib in assignment.libraries.all()] or [assignment.library.path]
            if not assignment.roles and not assignment.libraries.all():
                continue
            if assignment.roles and membership.role not in assignment.roles:
                continue
            if not any(library.path.startswith(p) for p in paths):
                continue
            enrolment = do_enrol(
                membership.user,
                assignment.course,
                library,
                assignment=assignment,
                assigned_by=assignment.assigned_by,
                due=assignment.due_for_newcomer(),
            )
            # Moved: the unfinished course follows them to the library they work for now.
            if (
                enrolment.state != Enrolment.State.COMPLETED
                and enrolment.library_id != library.pk
                and not Membership.objects.filter(
                    user_id=membership.user_id, library_id=enrolment.library_id
                ).exists()
            ):
                enrolment.library = library
                enrolment.save(update_fields=["library"])
            enrolled.append(enrolment)
    return enrolled


# --- progress ------------------------------------------------------------------------


def check_lesson(user, lesson: LessonPage) -> Enrolment:
    enrolment = current_enrolment(user, lesson.course)
    if enrolment is None:
        raise PermissionDenied
    if not access.can(user, TAKE, enrolment.library):
        raise PermissionDenied
    return enrolment


def do_view_lesson(enrolment: Enrolment, lesson: LessonPage) -> LessonProgress:
    """Remember where the person is, so they resume here."""
    with transaction.atomic():
        progress, _created = LessonProgress.objects.get_or_create(
            enrolment=enrolment, lesson=lesson
        )
        updates = {"last_lesson": lesson}
        if enrolment.state == Enrolment.State.ENROLLED:
            updates["state"] = Enrolment.State.IN_PROGRESS
        Enrolment.objects.filter(pk=enrolment.pk).update(**updates)
    return progress


def do_mark_lesson_done(enrolment: Enrolment, lesson: LessonPage) -> Completion | None:
    with transaction.atomic():
        enrolment = _lock(enrolment)
        progress, _created = LessonProgress.objects.get_or_create(
            enrolment=enrolment, lesson=lesson
        )
        if progress.completed_at is None:
            progress.completed_at = timezone.now()
            progress.save(update_fields=["completed_at"])
        if enrolment.state == Enrolment.State.ENROLLED:
            enrolment.state = Enrolment.State.IN_PROGRESS
            enrolment.save(update_fields=["state"])
        return maybe_complete(enrolment)


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


# --- quiz ----------------------------------------------------------------------------


def quiz_of(course: CoursePage) -> Quiz | None:
    return Quiz.objects.filter(course=course).first()


def attempts_left(enrolment: Enrolment, quiz: Quiz) -> int | None:
    if quiz.max_attempts is None:
        return None
    used = QuizAttempt.objects.filter(
        enrolment=enrolment, quiz=quiz, submitted_at__isnull=False
    ).count()
    return max(quiz.max_attempts - used, 0)


def check_start_attempt(user, course: CoursePage) -> tuple[Enrolment, Quiz]:
    enrolment = current_enrolment(user, course)
    if enrolment is None or not access.can(user, TAKE, enrolment.library):
        raise PermissionDenied
    quiz = quiz_of(course)
    if quiz is None:
        raise TrainingError(_("This course has no quiz."))
    if enrolment.state == Enrolment.State.COMPLETED:
        raise TrainingError(_("You have completed this course."))
    return enrolment, quiz


def do_start_attempt(enrolment: Enrolment, quiz: Quiz, rng: random.Random | None = None):
    """The open attempt, or a new one with its own option order while attempts remain."""
    with transaction.atomic():
        enrolment = _lock(enrolment)
        attempt = QuizAttempt.objects.filter(
            enrolment=enrolment, quiz=quiz, submitted_at__isnull=True
        ).first()
        if attempt:
            return attempt
        if attempts_left(enrolment, quiz) == 0:
            raise AttemptsExhausted(_("You have used every attempt at this quiz."))
        rng = rng or random.SystemRandom()
        order = {}
        for question in quiz.questions.prefetch_related("options"):
            ids = [o.pk for o in question.options.all()]
            if quiz.shuffle:
                rng.shuffle(ids)
            order[str(question.pk)] = ids
        number = QuizAttempt.objects.filter(enrolment=enrolment, quiz=quiz).count() + 1
        return QuizAttempt.objects.create(
            enrolment=enrolment, quiz=quiz, number=number, option_order=order
        )


@dataclass
class QuestionResult:
    question: object
    chosen: list
    right: bool
    feedback: list[tuple[object, bool]]  # (option chosen, whether it was correct)
    correct_options: list = field(default_factory=list)


@dataclass
class AttemptResult:
    attempt: QuizAttempt
    questions: list[QuestionResult]
    completion: Completion | None = None

    @property
    def passed(self) -> bool:
        return self.attempt.passed


def check_submit_attempt(user, attempt_id: int, answers: dict[str, list[int]]) -> QuizAttempt:
    attempt = QuizAttempt.objects.select_related("enrolment", "quiz").filter(pk=attempt_id).first()
    if attempt is None or attempt.enrolment.user_id != user.pk:
        raise PermissionDenied
    if not attempt.enrolment.current or not access.can(user, TAKE, attempt.enrolment.library):
        raise PermissionDenied
    if attempt.submitted_at is not None:
        raise TrainingError(_("This attempt was already submitted."))
    for question_id, chosen in answers.items():
        allowed = set(attempt.option_order.get(str(question_id), []))
        if not set(chosen) <= allowed:
            raise TrainingError(_("An answer does not belong to this quiz."))
    return attempt


def do_submit_attempt(attempt: QuizAttempt, answers: dict[str, list[int]]) -> AttemptResult:
    """Mark the attempt: a question is right when exactly its correct options are chosen."""
    with transaction.atomic():
        enrolment = _lock(attempt.enrolment)
        attempt = QuizAttempt.objects.select_for_update().get(pk=attempt.pk)
        if attempt.submitted_at is not None:
            raise TrainingError(_("This attempt was already submitted."))
        questions = list(attempt.quiz.questions.prefetch_related("options"))
        results, right = [], 0
        stored = {}
        for question in questions:
            options = {o.pk: o for o in question.options.all()}
            chosen_ids = [int(i) for i in answers.get(str(question.pk), []) if int(i) in options]
            if question.kind == question.Kind.SINGLE:
                chosen_ids = chosen_ids[:1]
            stored[str(question.pk)] = chosen_ids
            correct = {pk for pk, o in options.items() if o.correct}
            is_right = set(chosen_ids) == correct
            right += is_right
            results.append(
                QuestionResult(
                    question=question,
                    chosen=[options[i] for i in chosen_ids],
                    right=is_right,
                    feedback=[(options[i], options[i].correct) for i in chosen_ids],
                    correct_options=[options[i] for i in sorted(correct)],
                )
            )
        total = len(questions) or 1
        score = (Decimal(right * 100) / Decimal(total)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        attempt.answers = stored
        attempt.score = score
        attempt.passed = score >= attempt.quiz.pass_mark
        attempt.submitted_at = timezone.now()
        attempt.save(update_fields=["answers", "score", "passed", "submitted_at"])
        if enrolment.state == Enrolment.State.ENROLLED:
            enrolment.state = Enrolment.State.IN_PROGRESS
            enrolment.save(update_fields=["state"])
        audit.record_on_commit(
            "training.quiz_submitted",
            actor=enrolment.user,
            library=enrolment.library,
            obj=attempt,
            data={"score": str(score), "passed": attempt.passed, "number": attempt.number},
        )
        completion = maybe_complete(enrolment) if attempt.passed else None
    return AttemptResult(attempt=attempt, questions=results, completion=completion)


# --- completion and certificates -----------------------------------------------------


def completion_rules_met(enrolment: Enrolment) -> tuple[bool, Decimal | None]:
    """Every live lesson done and, when the course has a quiz, an attempt passed."""
    lesson_ids = set(enrolment.course.lessons().values_list("pk", flat=True))
    if not lesson_ids <= lessons_done(enrolment):
        return False, None
    quiz = quiz_of(enrolment.course)
    if quiz is None:
        return True, None
    best = (
        QuizAttempt.objects.filter(enrolment=enrolment, quiz=quiz, passed=True)
        .order_by("-score")
        .values_list("score", flat=True)
        .first()
    )
    return best is not None, best


def xapi_statement(completion: Completion, course_url: str = "") -> dict:
    """An xAPI-style statement, so a learning record store can be connected later."""
    user = completion.user
    statement = {
        "actor": {
            "objectType": "Agent",
            "name": user.full_name or user.email,
            "mbox": f"mailto:{user.email}",
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },
        "object": {
            "objectType": "Activity",
            "id": course_url or f"urn:concord:course:{completion.course_id}",
            "definition": {"name": {"en": completion.course.title}},
        },
        "result": {"completion": True, "success": True},
        "timestamp": completion.completed_at.isoformat(),
        "context": {"extensions": {"urn:concord:library": completion.library.code}},
    }
    if completion.score is not None:
        statement["result"]["score"] = {"scaled": float(completion.score) / 100}
    return statement


def maybe_complete(enrolment: Enrolment, now: datetime | None = None) -> Completion | None:
    """Complete the enrolment when its rules are met; only the first call does anything.

    The caller holds the enrolment's row lock (``_lock``) so two requests cannot both
    complete it.
    """
    if Completion.objects.filter(enrolment=enrolment).exists():
        return None
    met, score = completion_rules_met(enrolment)
    if not met:
        return None
    now = now or timezone.now()
    completion = Completion.objects.create(
        enrolment=enrolment,
        user=enrolment.user,
        course=enrolment.course,
        library=enrolment.library,
        completed_at=now,
        score=score,
    )
    completion.statement = xapi_statement(completion, enrolment.course.full_url or "")
    completion.save(update_fields=["statement"])
    Enrolment.objects.filter(pk=enrolment.pk).update(
        state=Enrolment.State.COMPLETED, completed_at=now
    )
    enrolment.state, enrolment.completed_at = Enrolment.State.COMPLETED, now
    do_issue_certificate(completion)
    audit.record_on_commit(
        "training.course_completed",
        actor=enrolment.user,
        library=enrolment.library,
        obj=completion,
        data={"statement": completion.statement},
    )
    library, user, course = enrolment.library, enrolment.user, enrolment.course
    transaction.on_commit(
        lambda: course_completed.send_robust(
            sender=library, user=user, course=course, completion=completion
        )
    )
    return completion


def do_issue_certificate(completion: Completion) -> Certificate:
    """Issue the certificate; an earlier one for the same course expires now."""
    course = completion.course
    expires = (
        add_months(completion.completed_at, course.recertify_months)
        if course.recertify_months
        else None
    )
    now = completion.completed_at
    Certificate.objects.filter(
        user_id=completion.user_id, course=course, revoked_at__isnull=True
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).update(expires_at=now)
    user = completion.user
    certificate = Certificate.objects.create(
        completion=completion,
        user=user,
        course=course,
        library=completion.library,
        holder_name=user.full_name or user.email,
        course_title=course.title,
        library_name=completion.library.name,
        issued_at=now,
        expires_at=expires,
    )
    audit.record_on_commit(
        "training.certificate_issued",
        actor=user,
        library=completion.library,
        obj=certificate,
        data={"code": certificate.code, "expires_at": expires},
    )
    return certificate


def check_revoke(actor, certificate: Certificate) -> Certificate:
    if not (access.can(actor, MANAGE, certificate.library) or access.is_consortium_admin(actor)):
        raise PermissionDenied
    if certificate.revoked_at:
        raise TrainingError(_("This certificate is already revoked."))
    return certificate


def do_revoke(actor, certificate: Certificate, reason: str = "") -> Certificate:
    with transaction.atomic():
        certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if certificate.revoked_at is None:
            certificate.revoked_at = timezone.now()
            certificate.revoked_reason = reason[:255]
            certificate.save(update_fields=["revoked_at", "revoked_reason"])
            audit.record_on_commit(
                "training.certificate_revoked",
                actor=actor,
                library=certificate.library,
                obj=certificate,
                data={"code": certificate.code, "reason": reason},
            )
    return certificate


# --- periodic ------------------------------------------------------------------------


def do_recertify(now: datetime | None = None) -> list[Enrolment]:
    """Open the next cycle for every certificate of a re-certified course that expires
    within ``RECERTIFY_LEAD``. Idempotent: a cycle is opened only from the current one."""
    now = now or timezone.now()
    opened = []
    due_certificates = Certificate.objects.filter(
        revoked_at__isnull=True,
        expires_at__isnull=False,
        expires_at__lte=now + RECERTIFY_LEAD,
        completion__enrolment__current=True,
        course__recertify_months__isnull=False,
    ).select_related("completion__enrolment", "course", "library")
    for certificate in due_certificates:
        with transaction.atomic():
            old = (
                Enrolment.objects.select_for_update(skip_locked=True)
                .filter(pk=certificate.completion.enrolment_id, current=True)
                .first()
            )
            if old is None:
                continue
            old.current = False
            old.save(update_fields=["current"])
            new = Enrolment.objects.create(
                user_id=old.user_id,
                course_id=old.course_id,
                library_id=old.library_id,
                assignment_id=old.assignment_id,
                assigned_by_id=old.assigned_by_id,
                cycle=old.cycle + 1,
                due=timezone.localdate(certificate.expires_at),
            )
            audit.record_on_commit(
                "training.recertification_assigned",
                library=certificate.library,
                obj=new,
                data={"previous_certificate": certificate.code, "due": new.due},
            )
            opened.append(new)
    return opened


# Reminders go this long before the due date, and once more after it has passed.
REMIND_BEFORE = timedelta(days=7)


def do_plan_reminders(today: date | None = None) -> dict[int, list[int]]:
    """Remember a reminder for every unfinished enrolment due soon or overdue that has not
    had that kind yet, and queue one email per person on commit. ``{user_id: [ids]}``."""
    today = today or timezone.localdate()
    planned: dict[int, list[int]] = {}
    with transaction.atomic():
        candidates = (
            Enrolment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(current=True, due__isnull=False, due__lte=today + REMIND_BEFORE)
            .exclude(state=Enrolment.State.COMPLETED)
            .filter(user__is_active=True)
            .values_list("pk", "user_id", "due")
        )
        rows = []
        for pk, user_id, due in candidates:
            kind = ReminderSent.Kind.OVERDUE if due < today else ReminderSent.Kind.DUE_SOON
            rows.append((pk, user_id, kind))
        sent = set(
            ReminderSent.objects.filter(enrolment_id__in=[r[0] for r in rows]).values_list(
                "enrolment_id", "kind"
            )
        )
        fresh = [r for r in rows if (r[0], r[2]) not in sent]
        made = ReminderSent.objects.bulk_create(
            [ReminderSent(enrolment_id=pk, kind=kind) for pk, _user, kind in fresh],
            batch_size=1000,
        )
        for reminder, (_pk, user_id, _kind) in zip(made, fresh, strict=True):
            planned.setdefault(user_id, []).append(reminder.pk)
        for user_id, ids in planned.items():
            transaction.on_commit(
                lambda user_id=user_id, ids=ids: enqueue("training.send_reminders", user_id, ids)
            )
    return planned
