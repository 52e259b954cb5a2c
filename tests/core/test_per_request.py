"""What one request reads once: the plugin switches, the roles' stamp, the second factor."""

import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa import signals as mfa_signals
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from portal import access, per_request
from portal.members.models import LibraryPluginSwitch, PluginState
from portal.members.roles import DIRECTOR
from tests import factories
from tests.factories import with_mfa

pytestmark = pytest.mark.django_db


def in_a_request(view):
    """Run ``view()`` as the middleware runs a view: inside one request's memory."""
    return per_request.PerRequestMiddleware(lambda request: view())(RequestFactory().get("/"))


def test_outside_a_request_nothing_is_remembered():
    calls = []
    assert per_request.remember("k", lambda: calls.append(1) or len(calls)) == 1
    assert per_request.remember("k", lambda: calls.append(1) or len(calls)) == 2
    assert not per_request.active()


def test_inside_a_request_a_value_is_worked_out_once_until_forgotten():
    calls = []

    def view():
        first = per_request.remember("k", lambda: calls.append(1) or len(calls))
        again = per_request.remember("k", lambda: calls.append(1) or len(calls))
        per_request.forget("k")
        after = per_request.remember("k", lambda: calls.append(1) or len(calls))
        return HttpResponse(f"{first} {again} {after}")

    assert in_a_request(view).content == b"1 1 2"
    assert not per_request.active()  # the memory went with the response


def test_a_page_reads_the_plugin_switches_once(client, small_tree):
    director = with_mfa(factories.member(small_tree["systems"][0], DIRECTOR))
    client.force_login(director)
    client.get("/dashboard/")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/dashboard/").status_code == 200
    tables = [q["sql"].split(" FROM ")[1].split()[0] for q in ctx if " FROM " in q["sql"]]
    # Kept between requests: read once when they changed, not at all when they did not.
    assert tables.count('"members_pluginstate"') == 0, tables
    assert tables.count('"members_librarypluginswitch"') == 0, tables
    LibraryPluginSwitch.objects.create(
        library=small_tree["systems"][1], plugin="announcements", enabled=False
    )
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/dashboard/").status_code == 200
    tables = [q["sql"].split(" FROM ")[1].split()[0] for q in ctx if " FROM " in q["sql"]]
    assert tables.count('"members_pluginstate"') == 1, tables
    assert tables.count('"members_librarypluginswitch"') == 1, tables


def test_a_switch_changed_shows_on_the_next_request_at_once(client, small_tree):
    # The switches are kept between requests: switching a plugin off (or the consortium
    # uninstalling it) must take effect on the next page, every permission decided afresh.
    system = small_tree["systems"][0]
    client.force_login(with_mfa(factories.member(system, DIRECTOR)))
    assert client.get("/governance/").status_code == 200
    assert client.get("/governance/").status_code == 200  # from what was kept
    switch = LibraryPluginSwitch.objects.create(library=system, plugin="governance", enabled=False)
    assert client.get("/governance/").status_code == 403
    switch.delete()
    assert client.get("/governance/").status_code == 200
    PluginState.objects.create(plugin="governance", enabled=False)
    assert client.get("/governance/").status_code == 403


def test_a_switch_changed_during_the_request_is_read_again(small_tree):
    system = small_tree["systems"][0]
    director = factories.member(system, DIRECTOR)

    def view():
        before = access.libraries_for(director, "governance.view_proposals").filter(pk=system.pk)
        seen = before.exists()
        LibraryPluginSwitch.objects.create(library=system, plugin="governance", enabled=False)
        after = access.libraries_for(director, "governance.view_proposals").filter(pk=system.pk)
        return HttpResponse(f"{seen} {after.exists()}")

    assert in_a_request(view).content == b"True False"


def signed_in_with_a_second_factor(client, user):
    """The session as allauth leaves it after a sign-in with a password and TOTP."""
    client.force_login(user)
    session = client.session
    for method in ("password", "mfa"):
        record_authentication(_RequestOf(session), user, method)
    session.save()


class _RequestOf:
    def __init__(self, session):
        self.session = session


def test_a_person_who_signed_in_with_a_second_factor_is_not_asked_about_it_again(
    client, small_tree
):
    director = with_mfa(factories.member(small_tree["systems"][0], DIRECTOR))
    signed_in_with_a_second_factor(client, director)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/dashboard/").status_code == 200
    assert not [q for q in ctx if '"mfa_authenticator"' in q["sql"]]
    # Signed in some other way (here: no record), the database is asked.
    client.force_login(with_mfa(factories.member(small_tree["systems"][1], DIRECTOR)))
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/dashboard/").status_code == 200
    assert [q for q in ctx if '"mfa_authenticator"' in q["sql"]]


def test_removing_the_factor_makes_the_check_ask_the_database_again(client, small_tree):
    director = with_mfa(factories.member(small_tree["systems"][0], DIRECTOR))
    signed_in_with_a_second_factor(client, director)
    assert client.get("/dashboard/").status_code == 200
    authenticator = director.authenticator_set.get()
    session = client.session
    mfa_signals.authenticator_removed.send(
        sender=type(authenticator),
        request=_RequestOf(session),
        user=director,
        authenticator=authenticator,
    )
    session.save()
    authenticator.delete()
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "totp" in response["Location"]
