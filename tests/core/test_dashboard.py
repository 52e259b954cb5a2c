"""The dashboard shows each enabled plugin's panel, in a constant number of queries."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.members.models import LibraryPluginSwitch
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa

pytestmark = pytest.mark.django_db


def grow(root, systems, staff_each=2):
    for _ in range(systems):
        system = factories.library(root)
        factories.library(system)
        factories.member(system, DIRECTOR)
        for _ in range(staff_each):
            factories.member(system, STAFF)


def dashboard_queries(client, user, kept=False):
    """Queries of one visit: cold (the cache cleared first: every panel and the person's
    standing worked out, the cost that must not grow) unless ``kept`` (the same sign-in:
    signing in again saves the person's last login, which drops what was kept of them)."""
    if not kept:
        client.force_login(user)
        cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/dashboard/")
    assert response.status_code == 200
    return len(ctx), response.content.decode()


@pytest.mark.slow
def test_dashboard_queries_do_not_grow_with_libraries_and_people(client):
    # One world for the three roles: growing it is what costs (each person's grants).
    root = factories.consortium()
    home = factories.library(root, name="Home Library System")
    people = {
        STAFF: factories.member(home, STAFF),
        DIRECTOR: with_mfa(factories.member(home, DIRECTOR)),
        CONSORTIUM_ADMIN: with_mfa(factories.member(root, CONSORTIUM_ADMIN)),
    }
    grow(root, 2)  # 5 libraries in all
    small = {role: dashboard_queries(client, user) for role, user in people.items()}
    grow(root, 98)  # 201 libraries, ~300 people
    for role, user in people.items():
        queries, html = small[role]
        assert dashboard_queries(client, user)[0] == queries, role
        assert "Shared policies" in html or "Policies to acknowledge" in html, role


def test_dashboard_shows_panels_for_enabled_plugins_and_roles_only(client):
    tree = factories.tree(systems=2, branches=1)
    system = tree["systems"][0]
    staff = factories.member(system, STAFF)
    LibraryPluginSwitch.objects.create(library=system, plugin="announcements", enabled=False)
    _, html = dashboard_queries(client, staff)
    assert 'data-plugin="policies"' in html
    assert 'data-plugin="training"' in html
    assert 'data-plugin="announcements"' not in html  # switched off for the library
    assert 'data-plugin="patron_notices"' not in html  # staff may not see patrons
    assert system.name in html


def test_dashboard_requires_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_second_visit_is_served_from_what_was_kept(client):
    tree = factories.tree(systems=1, branches=1)
    director = with_mfa(factories.member(tree["systems"][0], DIRECTOR))
    cold, html = dashboard_queries(client, director)
    warm, again = dashboard_queries(client, director, kept=True)
    # The session, the person and the consortium's name: no panel reads anything, and
    # the plugin switches are kept too.
    assert warm <= 3 < cold
    assert again.count('class="panel"') == html.count('class="panel"') >= 3
    assert "csrf-token-placeholder" not in again


def test_a_plugin_switched_off_leaves_the_kept_dashboard_at_once(client):
    tree = factories.tree(systems=1, branches=0)
    system = tree["systems"][0]
    staff = factories.member(system, STAFF)
    _, html = dashboard_queries(client, staff)
    assert 'data-plugin="announcements"' in html
    LibraryPluginSwitch.objects.create(library=system, plugin="announcements", enabled=False)
    _, html = dashboard_queries(client, staff, kept=True)
    assert 'data-plugin="announcements"' not in html
