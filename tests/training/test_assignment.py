"""Assignments are standing rules: by role across a system and its branches, for
people who join or move later too."""

import pytest
from django.core.exceptions import PermissionDenied

from knowledge_base.training.models import Enrolment
from knowledge_base.training.services.assignment import AssignmentRequest, check_assign, do_assign
from portal.members.models import LibraryPluginSwitch, Membership
from portal.members.roles import DIRECTOR, STAFF, TRAINER
from tests import factories

pytestmark = pytest.mark.django_db


def assign(actor, course, library, **fields):
    request = AssignmentRequest(course=course, library=library, **fields)
    check_assign(actor, request)
    return do_assign(actor, request)


def enrolled(course):
    return set(
        Enrolment.objects.filter(course=course, current=True).values_list("user_id", flat=True)
    )


def test_role_assignment_on_a_system_reaches_its_branches_and_newcomers(world, course):
    system_a = world["system_a"]
    branch_a2 = world["branches"][1]
    trainer_a2 = factories.member(branch_a2, TRAINER)
    assign(world["director_a"], course, system_a, roles=[STAFF], libraries=[system_a])
    # Staff of a branch of system A, not the trainer, not staff of system B.
    assert enrolled(course) == {world["staff_a"].pk}
    assert trainer_a2.pk not in enrolled(course)
    # Someone who joins a branch later is enrolled by the standing rule.
    newcomer = factories.member(branch_a2, STAFF)
    enrolment = Enrolment.objects.get(user=newcomer, course=course)
    assert enrolment.library == branch_a2 and enrolment.due is not None
    # Someone who joins system B is not.
    outsider = factories.member(world["branch_b1"], STAFF)
    assert outsider.pk not in enrolled(course)


def test_someone_who_moves_in_is_enrolled_and_their_course_follows_them(world, course):
    assign(world["director_a"], course, world["system_a"], roles=[STAFF])
    mover = world["staff_b"]
    assert mover.pk not in enrolled(course)
    Membership.objects.filter(user=mover).delete()
    Membership.objects.create(user=mover, library=world["branches"][1], role=STAFF)
    assert Enrolment.objects.get(user=mover, course=course).library == world["branches"][1]


def test_office_assigns_consortium_wide_by_role(world, course):
    assign(world["office"], course, world["root"], roles=[STAFF, DIRECTOR])
    assert enrolled(course) == {world["staff_a"].pk, world["staff_b"].pk, world["director_a"].pk}


def test_assigning_twice_does_not_enrol_twice(world, course):
    assign(world["director_a"], course, world["system_a"], roles=[STAFF])
    assign(world["director_a"], course, world["system_a"], libraries=[world["branch_a1"]])
    assert Enrolment.objects.filter(user=world["staff_a"], course=course).count() == 1


def test_people_assignment(world, course):
    assign(world["director_a"], course, world["system_a"], people=[world["staff_a"]])
    assert enrolled(course) == {world["staff_a"].pk}
    # A people-only assignment is not a rule for newcomers.
    factories.member(world["branch_a1"], STAFF)
    assert enrolled(course) == {world["staff_a"].pk}


def test_director_cannot_assign_outside_their_subtree(world, course):
    director = world["director_a"]
    with pytest.raises(PermissionDenied):
        check_assign(director, AssignmentRequest(course, world["system_b"], roles=[STAFF]))
    with pytest.raises(PermissionDenied):
        check_assign(
            director,
            AssignmentRequest(course, world["system_a"], libraries=[world["system_b"]]),
        )
    with pytest.raises(PermissionDenied):
        check_assign(
            director,
            AssignmentRequest(course, world["system_a"], people=[world["staff_b"]]),
        )
    with pytest.raises(PermissionDenied):
        check_assign(world["staff_a"], AssignmentRequest(course, world["branch_a1"], roles=[STAFF]))


def test_library_that_switched_training_off_is_not_enrolled(world, course):
    LibraryPluginSwitch.objects.create(library=world["system_b"], plugin="training", enabled=False)
    assign(world["office"], course, world["root"], roles=[STAFF])
    assert enrolled(course) == {world["staff_a"].pk}
    factories.member(world["branch_b1"], STAFF)
    assert enrolled(course) == {world["staff_a"].pk}
