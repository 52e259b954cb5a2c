"""Who an announcement reaches, and that finding out costs a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from plugins.announcements import selectors
from plugins.announcements.models import AnnouncementPage
from portal.members.models import LibraryPluginSwitch, Membership
from portal.members.roles import DIRECTOR, STAFF
from tests import factories

from .conftest import publish

pytestmark = pytest.mark.django_db


def titles(user):
    return set(selectors.announcements_for(user).values_list("title", flat=True))


def test_system_audience_reaches_its_branches_but_not_other_systems(world):
    publish(world["north_director"], "North only", libraries=[world["north"]])
    assert "North only" in titles(world["north_staff"])
    assert "North only" in titles(world["north_branch_staff"])
    assert "North only" in titles(world["north_director"])
    assert "North only" not in titles(world["south_staff"])
    assert "North only" not in titles(world["south_branch_staff"])


def test_branch_audience_reaches_the_system_above_but_not_the_sibling_system(world):
    publish(world["office"], "Branch news", libraries=[world["north_branch"]])
    assert "Branch news" in titles(world["north_branch_staff"])
    assert "Branch news" in titles(world["north_staff"])  # a system role reaches its branches
    assert "Branch news" not in titles(world["south_branch_staff"])


def test_everyone_and_roles(world):
    publish(world["office"], "For all", everyone=True)
    publish(world["office"], "Directors only", everyone=True, roles=[DIRECTOR])
    assert {"For all"} == titles(world["south_branch_staff"])
    assert {"For all", "Directors only"} == titles(world["south_director"])


def test_role_must_be_held_at_the_targeted_library(world):
    # Staff at south and director at north: a "directors of south" notice is not for them.
    person = world["south_staff"]
    Membership.objects.create(user=person, library=world["north"], role=DIRECTOR)
    publish(world["office"], "South directors", libraries=[world["south"]], roles=[DIRECTOR])
    publish(world["office"], "North directors", libraries=[world["north"]], roles=[DIRECTOR])
    fresh = type(person).objects.get(pk=person.pk)
    assert titles(fresh) == {"North directors"}


def test_expired_scheduled_and_switched_off_are_hidden(world):
    now = timezone.now()
    page = publish(world["office"], "Expiring", everyone=True, expire_at=now + timedelta(hours=1))
    publish(world["office"], "Later", everyone=True, go_live_at=now + timedelta(days=1))
    assert titles(world["north_staff"]) == {"Expiring"}
    AnnouncementPage.objects.filter(pk=page.pk).update(expire_at=now - timedelta(minutes=1))
    assert titles(world["north_staff"]) == set()
    publish(world["office"], "Now", everyone=True)
    LibraryPluginSwitch.objects.create(
        library=world["north"], plugin="announcements", enabled=False
    )
    staff = type(world["north_staff"]).objects.get(pk=world["north_staff"].pk)
    assert titles(staff) == set()
    assert titles(world["south_staff"]) == {"Now"}


def test_recipients_match_the_selector(world):
    page = publish(world["office"], "South", libraries=[world["south"]], roles=[STAFF])
    emails = set(selectors.recipients(page).values_list("email", flat=True))
    assert emails == {"ss@example.org", "sbs@example.org"}


def _grow(root, n):
    for _ in range(n):
        system = factories.library(root)
        factories.member(system, STAFF)


@pytest.mark.parametrize("who", ["north_staff", "north_director", "office"])
def test_queries_do_not_grow_with_libraries_and_announcements(world, who):
    user = world[who]

    def count():
        fresh = type(user).objects.get(pk=user.pk)
        with CaptureQueriesContext(connection) as ctx:
            list(selectors.for_dashboard(fresh))
            selectors.unread_count(fresh)
        return len(ctx)

    publish(world["office"], "One", everyone=True)
    small = count()
    _grow(world["root"], 20)
    for n in range(10):
        publish(world["office"], f"Many {n}", libraries=[world["north"], world["south_branch"]])
    assert count() == small
