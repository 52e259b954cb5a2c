"""Assigning a course: a standing rule that enrols everyone it targets, now or later."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit import services as audit
from portal.home.panels import panel_changed
from portal.members.models import MemberLibrary, Membership
from portal.members.roles import definitions

from ..models import Assignment, CoursePage, Enrolment
from ..rules import ASSIGN, TrainingError
from .enrolment import enabled_library_ids


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
    enabled = enabled_library_ids(set(targets.values()))
    already = set(
        Enrolment.objects.filter(
            course=assignment.course, current=True, user_id__in=targets
        ).values_list("user_id", flat=True)
    )
    due = assignment.due_for_newcomer()
    panel_changed("training", shared_parts=False)  # bulk_create sends no post_save
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
