"""Enrolling: a person on their own, or a standing assignment following them as they join
or move between libraries."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from portal import access
from portal.audit import services as audit
from portal.members.models import MemberLibrary, Membership
from portal.members.switches import enabled_plugins_by_library

from ..models import Assignment, Completion, CoursePage, Enrolment
from ..rules import TAKE, TrainingError
from ..selectors import library_for_taking


def locked(enrolment: Enrolment) -> Enrolment:
    """The enrolment's row, locked until the transaction ends."""
    return Enrolment.objects.select_for_update().select_related("course").get(pk=enrolment.pk)


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


def enabled_library_ids(library_ids: set[int]) -> set[int]:
    libraries = MemberLibrary.objects.filter(pk__in=library_ids)
    return {
        pk for pk, labels in enabled_plugins_by_library(libraries).items() if "training" in labels
    }


def do_follow_membership(membership: Membership) -> list[Enrolment]:
    """Someone joined or moved: enrol them under every standing assignment they now fall
    under, and move their unfinished enrolments to the new library."""
    library = membership.library
    # Asked afresh: a library object kept in memory may hold an older answer.
    if library.pk not in enabled_library_ids({library.pk}):
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
