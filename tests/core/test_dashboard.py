"""The dashboard shows each enabled plugin's panel, in a constant number of queries."""

import pytest
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


def dashboard_queries(client, user):
    client.force_login(user)
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
