"""The dashboard's announcements and unread count come in one query, and agree with the
archive's own reads."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plugins.announcements import selectors
from plugins.announcements.models import AnnouncementRead
from portal import access

from .conftest import publish

pytestmark = pytest.mark.django_db


def test_unread_counts_every_announcement_not_only_those_listed(world):
    office = world["office"]
    pages = [publish(office, f"Notice {n}", everyone=True) for n in range(5)]
    staff = world["south_staff"]
    AnnouncementRead.objects.create(user=staff, page=pages[0], read_at=pages[0].first_published_at)
    expected = ([p.pk for p in selectors.for_dashboard(staff, limit=2)], 4)
    assert selectors.unread_count(staff) == 4
    # As on the dashboard: the person's libraries (where the plugin is on) are known.
    libraries = [m.library for m in access.memberships_of(staff)]

    with CaptureQueriesContext(connection) as queries:
        listed, unread = selectors.dashboard_announcements(staff, libraries, limit=2)

    assert len(queries) == 1
    assert ([p.pk for p in listed], unread) == expected


def test_nothing_listed_means_nothing_unread(world):
    assert selectors.dashboard_announcements(world["south_staff"]) == ([], 0)
