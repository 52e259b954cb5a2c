"""Roles become per-library grants that reach down the tree, and only down."""

import pytest

from portal import access
from portal.members.grants import sync_grants
from portal.members.models import MemberLibraryUserObjectPermission, Membership
from portal.members.roles import (
    COMMUNICATIONS,
    CONSORTIUM_ADMIN,
    DIRECTOR,
    STAFF,
    permissions_of_role,
)
from tests import factories

pytestmark = pytest.mark.django_db


def fresh(user):
    return type(user).objects.get(pk=user.pk)


def test_a_system_role_reaches_its_branches_but_not_siblings_or_parents(small_tree):
    system, other = small_tree["systems"]
    director = factories.member(system, DIRECTOR)
    for branch in system.get_children():
        assert access.can(director, "governance.cast_ballot", branch)
    assert access.can(director, "governance.cast_ballot", system)
    assert not access.can(director, "governance.cast_ballot", other)
    assert not access.can(director, "governance.cast_ballot", small_tree["root"])
    for branch in other.get_children():
        assert not access.can(director, "portal.view_library", branch)
    expected = {system, *system.get_children()}
    assert set(access.libraries_for(director, "governance.cast_ballot")) == expected


def test_grants_are_guardian_rows_and_follow_membership_changes(small_tree):
    system = small_tree["systems"][0]
    staff = factories.member(system, STAFF)
    rows = MemberLibraryUserObjectPermission.objects.filter(user=staff)
    # Every staff permission on the system and its two branches.
    assert rows.count() == 3 * len(permissions_of_role(STAFF))
    assert staff.has_perm("members.policies.view_policies", system)  # guardian's own API agrees

    Membership.objects.filter(user=staff).delete()
    assert not rows.exists()
    assert not access.can(fresh(staff), "policies.view_policies", system)


def test_a_branch_added_later_inherits_the_grants_above_it(small_tree):
    system = small_tree["systems"][0]
    director = factories.member(system, DIRECTOR)
    new_branch = factories.library(system, name="New Branch")
    assert access.can(director, "portal.manage_people", new_branch)


def test_one_off_grants_survive_a_resync(small_tree):
    system, other = small_tree["systems"]
    auditor = factories.member(system, STAFF)
    perm = MemberLibraryUserObjectPermission.objects.filter(user=auditor).first().permission
    MemberLibraryUserObjectPermission.objects.create(
        user=auditor, permission=perm, content_object=other, from_role=False
    )
    sync_grants([auditor.pk])
    assert access.can(auditor, perm.codename, other)


def test_staff_and_communications_differ(small_tree):
    system = small_tree["systems"][0]
    staff = factories.member(system, STAFF)
    comms = factories.member(system, COMMUNICATIONS)
    assert access.can(comms, "patron_notices.view_patrons", system)
    assert not access.can(staff, "patron_notices.view_patrons", system)
    assert not access.can(staff, "governance.cast_ballot", system)


def test_consortium_admin_is_checked_at_the_root_and_never_votes(small_tree):
    admin = factories.member(small_tree["root"], CONSORTIUM_ADMIN)
    branch = small_tree["branches"][0]
    # Nothing copied per library for admins.
    assert not MemberLibraryUserObjectPermission.objects.filter(user=admin).exists()
    assert access.can(admin, "governance.manage_committees", branch)
    assert access.can(admin, "portal.manage_people", branch)
    assert not access.can(admin, "governance.cast_ballot", branch)
    assert access.libraries_for(admin, "patron_notices.send_notices").count() == 7


def test_anonymous_and_inactive_people_can_do_nothing(small_tree):
    from django.contrib.auth.models import AnonymousUser

    system = small_tree["systems"][0]
    director = factories.member(system, DIRECTOR)
    director.is_active = False
    director.save()
    assert not access.can(fresh(director), "portal.view_library", system)
    assert not access.can(AnonymousUser(), "portal.view_library", system)
    assert not access.libraries_for(AnonymousUser(), "portal.view_library").exists()


def test_can_is_one_query_once_memberships_are_loaded(small_tree, django_assert_num_queries):
    system = small_tree["systems"][0]
    director = fresh(factories.member(system, DIRECTOR))
    system = type(system).objects.get(pk=system.pk)
    access.memberships_of(director)
    access.can(director, "governance.view_proposals", system)  # loads the switches once
    with django_assert_num_queries(1):
        access.can(director, "governance.cast_ballot", system)


def test_people_with_a_permission_on_a_library(small_tree):
    system, other = small_tree["systems"]
    branch = system.get_children().first()
    director = factories.member(system, DIRECTOR)
    staff = factories.member(branch, STAFF)
    factories.member(other, DIRECTOR)
    admin = factories.member(small_tree["root"], CONSORTIUM_ADMIN)
    assert set(access.people_with("governance.cast_ballot", branch)) == {director}
    assert set(access.people_with("policies.view_policies", branch)) == {director, staff, admin}
    assert set(access.people_with("governance.manage_committees", branch)) == {admin}


def test_people_with_any_of_many_libraries_in_one_query(small_tree, django_assert_num_queries):
    from portal.members.models import LibraryPluginSwitch

    system, other = small_tree["systems"]
    branch = system.get_children().first()
    director = factories.member(system, DIRECTOR)
    other_director = factories.member(other, DIRECTOR)
    staff = factories.member(branch, STAFF)
    admin = factories.member(small_tree["root"], CONSORTIUM_ADMIN)
    factories.member(other.get_children().first(), STAFF)  # on a library not asked about
    libraries = [system, branch, other]

    # The union of people_with over the libraries, each person once.
    found = list(access.people_with_any("policies.view_policies", libraries))
    assert len(found) == len(set(found))
    assert set(found) == {director, other_director, staff, admin}
    assert set(found) == set().union(
        *(access.people_with("policies.view_policies", lib) for lib in libraries)
    )
    assert set(access.people_with_any("governance.cast_ballot", libraries)) == {
        director,
        other_director,
    }
    assert set(access.people_with_any("governance.cast_ballot", [branch])) == {director}
    assert not access.people_with_any("governance.cast_ballot", []).exists()

    # A library that switched the module off brings nobody (the office still sees the rest).
    LibraryPluginSwitch.objects.create(library=other, plugin="governance", enabled=False)
    assert set(access.people_with_any("governance.view_proposals", libraries)) == {
        director,
        staff,
        admin,
    }
    assert not access.people_with_any("governance.view_proposals", [other]).exists()

    # Two reads of the switches, then the people: the same for one library or all of them.
    everywhere = list(type(system).objects.all())
    with django_assert_num_queries(3):
        list(access.people_with_any("governance.view_proposals", everywhere))
    with django_assert_num_queries(3):
        list(access.people_with_any("governance.view_proposals", [system]))
