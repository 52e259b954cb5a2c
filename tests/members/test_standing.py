"""A person's standing is kept between requests, and never outlives what it was read from.

Each test signs in, opens a page once (which keeps the standing), changes something the
way the portal does, and opens the page again: what it shows must follow at once.
"""

from contextlib import contextmanager

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal import access, per_request
from portal.members.models import (
    LibraryPluginSwitch,
    MemberLibrary,
    MemberLibraryUserObjectPermission,
    Membership,
    Role,
)
from portal.members.office import admin_access
from portal.members.role_services import RoleShape, do_edit_role
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from portal.members.services import do_remove_membership, do_update_library
from tests import factories
from tests.factories import with_mfa
from tests.queries import get_counting_queries, record_cache_reads

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_kept_before():
    cache.clear()


def dashboard(client) -> str:
    response = client.get("/dashboard/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_signed_in_page_reads_the_standing_once_then_keeps_it(client):
    system = factories.tree(systems=1, branches=0)["systems"][0]
    client.force_login(factories.member(system, STAFF))
    cold, _ = get_counting_queries(client, "/dashboard/")
    warm, response = get_counting_queries(client, "/dashboard/")
    # The memberships and the permissions for the navigation (the admin link and the
    # second factor are not asked of staff on this page) come from the cache.
    assert warm <= cold - 2
    assert b"Policies" in response.content


def test_a_signed_in_page_reads_the_roles_stamp_with_the_standing(client, monkeypatch):
    """The first thing every signed-in page reads from the shared cache, the person's
    standing, comes with the roles' stamp in one round trip, not after it in two."""
    from portal.members import roles

    system = factories.tree(systems=1, branches=0)["systems"][0]
    client.force_login(with_mfa(factories.member(system, DIRECTOR)))
    dashboard(client)  # keeps the standing
    reads = record_cache_reads(monkeypatch, roles)
    dashboard(client)
    assert reads and roles._STAMP_KEY in reads[0] and len(reads[0]) > 1
    assert [roles._STAMP_KEY] not in reads


def test_a_signed_in_page_reads_the_plugin_switches_with_the_standing(client, monkeypatch):
    """Nearly every signed-in page asks whether a plugin is on for a library: the kept
    switches come in the standing's round trip, not in one of their own."""
    from portal.members import roles, switches

    system = factories.tree(systems=1, branches=0)["systems"][0]
    client.force_login(factories.member(system, STAFF))
    dashboard(client)  # keeps the standing and the switches
    reads = record_cache_reads(monkeypatch, roles)
    switch_reads = record_cache_reads(monkeypatch, switches)
    assert 'data-plugin="announcements"' in dashboard(client)
    assert switch_reads == []
    assert {switches._GENERATION, switches._KEPT} <= set(reads[0])


def test_a_switch_moved_during_the_request_is_not_taken_from_the_standing_s_read(kept_staff):
    first, _second, _office, staff = kept_staff
    with a_request():
        assert access.memberships_of(staff)  # the standing, and the switches along with it
        LibraryPluginSwitch.objects.create(library=first, plugin="policies", enabled=False)
        first = MemberLibrary.objects.get(pk=first.pk)
        assert not access.can(staff, "policies.view_policies", first)


def test_nothing_is_kept_outside_a_request():
    system = factories.tree(systems=1, branches=0)["systems"][0]
    user = factories.member(system, STAFF)
    assert [m.role for m in access.memberships_of(user)] == [STAFF]
    Membership.objects.filter(user=user).delete()
    access.forget(user)
    assert access.memberships_of(user) == []


def test_a_removed_membership_is_gone_from_the_next_page(client):
    tree = factories.tree(systems=2, branches=0)
    first, second = tree["systems"]
    director = with_mfa(factories.member(first, DIRECTOR))
    office = factories.member(tree["root"], CONSORTIUM_ADMIN)
    Membership.objects.create(user=director, library=second, role=STAFF)
    client.force_login(director)
    assert second.name in dashboard(client)
    do_remove_membership(office, Membership.objects.get(user=director, library=second))
    html = dashboard(client)
    assert second.name not in html
    assert first.name in html


def test_a_new_membership_shows_on_the_next_page(client):
    tree = factories.tree(systems=2, branches=0)
    first, second = tree["systems"]
    staff = factories.member(first, STAFF)
    client.force_login(staff)
    assert second.name not in dashboard(client)
    Membership.objects.create(user=staff, library=second, role=STAFF)
    assert second.name in dashboard(client)


def test_a_renamed_library_shows_its_new_name_at_once(client):
    tree = factories.tree(systems=1, branches=0)
    system = tree["systems"][0]
    office = factories.member(tree["root"], CONSORTIUM_ADMIN)
    client.force_login(factories.member(system, STAFF))
    dashboard(client)
    system.name = "Renamed Library System"
    do_update_library(office, system, {"name"})
    assert "Renamed Library System" in dashboard(client)


def test_the_admin_link_follows_the_group_at_once(client):
    system = factories.tree(systems=1, branches=0)["systems"][0]
    staff = factories.member(system, STAFF)
    client.force_login(staff)
    assert 'href="/admin/"' not in dashboard(client)
    group = Group.objects.create(name="Reviewers")
    group.permissions.add(admin_access())
    staff.groups.add(group)
    assert 'href="/admin/"' in dashboard(client)
    group.user_set.remove(staff)
    assert 'href="/admin/"' not in dashboard(client)
    staff.user_permissions.add(admin_access())
    assert 'href="/admin/"' in dashboard(client)


def test_a_role_that_loses_a_permission_loses_its_link_at_once(client):
    tree = factories.tree(systems=1, branches=0)
    office = with_mfa(factories.member(tree["root"], CONSORTIUM_ADMIN))
    client.force_login(factories.member(tree["systems"][0], STAFF))
    assert ">News<" in dashboard(client)
    role = Role.objects.get(code=STAFF)
    shape = RoleShape.of(role)
    shape.permissions = shape.permissions - {"announcements.view_announcements"}
    do_edit_role(office, role, shape)
    assert ">News<" not in dashboard(client)


def test_a_director_whose_second_factor_is_removed_is_sent_to_set_one_up(client):
    system = factories.tree(systems=1, branches=0)["systems"][0]
    director = with_mfa(factories.member(system, DIRECTOR))
    client.force_login(director)
    dashboard(client)
    Authenticator.objects.filter(user=director).delete()
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert "/accounts/2fa/" in response["Location"]


@contextmanager
def a_request():
    """What the portal's middleware gives each request: its own memory."""
    token = per_request._memory.set({})
    try:
        yield
    finally:
        per_request._memory.reset(token)


def grant_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if "memberlibraryuserobjectpermission" in q["sql"]]


@pytest.fixture
def kept_staff():
    """Two systems, the office, and a member of staff of the first whose grants a request
    read and kept; the person as the next request reads them."""
    tree = factories.tree(systems=2, branches=0)
    first, second = tree["systems"]
    office = factories.member(tree["root"], CONSORTIUM_ADMIN)
    staff = factories.member(first, STAFF)
    with a_request():
        assert access.can(staff, "policies.view_policies", first)
    return first, second, office, get_user_model().objects.get(pk=staff.pk)


def test_decisions_read_the_kept_grants_and_follow_a_removed_membership_at_once(kept_staff):
    first, second, office, staff = kept_staff
    with a_request(), CaptureQueriesContext(connection) as queries:
        assert access.can(staff, "policies.view_policies", first)
        assert not access.can(staff, "policies.view_policies", second)
        assert access.can_anywhere(staff, "policies.view_policies")
        assert not access.can_anywhere(staff, "policies.manage_policies")
    assert grant_reads(queries.captured_queries) == []
    do_remove_membership(office, Membership.objects.get(user=staff, library=first))
    staff = get_user_model().objects.get(pk=staff.pk)
    with a_request():
        assert not access.can(staff, "policies.view_policies", first)
        assert not access.can_anywhere(staff, "policies.view_policies")


def test_a_plugin_switched_off_where_the_grant_is_grants_nothing_anywhere(kept_staff):
    first, _second, _office, staff = kept_staff
    with a_request():
        assert access.can_anywhere(staff, "policies.view_policies")
    LibraryPluginSwitch.objects.create(library=first, plugin="policies", enabled=False)
    staff = get_user_model().objects.get(pk=staff.pk)
    first = MemberLibrary.objects.get(pk=first.pk)  # as the next request reads it
    with a_request():
        assert not access.can(staff, "policies.view_policies", first)
        assert not access.can_anywhere(staff, "policies.view_policies")


def test_a_grant_written_by_hand_and_revoked_is_decided_at_once(kept_staff):
    _first, second, _office, staff = kept_staff
    perm = "policies.view_acknowledgements"
    with a_request():
        assert not access.can(staff, perm, second)  # kept: nothing held there
    grant = MemberLibraryUserObjectPermission.objects.create(
        user=staff,
        content_object=second,
        from_role=False,
        permission=Permission.objects.get(codename=perm),
    )
    staff = get_user_model().objects.get(pk=staff.pk)
    with a_request():
        assert access.can(staff, perm, second)
    grant.delete()
    staff = get_user_model().objects.get(pk=staff.pk)
    with a_request():
        assert not access.can(staff, perm, second)


def test_a_request_that_changes_a_person_s_grants_decides_from_the_database_after(kept_staff):
    first, _second, office, staff = kept_staff
    with a_request():
        assert access.can(staff, "policies.view_policies", first)  # from the kept grants
        do_remove_membership(office, Membership.objects.get(user=staff, library=first))
        assert not access.can(staff, "policies.view_policies", first)  # the same request
