"""Urgent emails on publish, digests by preference, per-person feeds."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from icalendar import Calendar

from plugins.announcements import selectors, tasks
from plugins.announcements.models import AnnouncementEmail, AnnouncementPreference
from portal.signals import periodic

from .conftest import publish

pytestmark = pytest.mark.django_db


def test_urgent_email_on_commit_once_each_respecting_preference(
    world, django_capture_on_commit_callbacks
):
    AnnouncementPreference.objects.create(
        user=world["south_branch_staff"], urgent_immediately=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        page = publish(
            world["south_director"], "Flood", libraries=[world["south"]], priority="urgent"
        )
    to = sorted(addr for m in mail.outbox for addr in m.to)
    assert to == ["sd@example.org", "ss@example.org"]
    assert "Flood" in mail.outbox[0].subject
    assert tasks.send_urgent_announcement(page.pk) == 0  # a repeat sends nothing
    assert len(mail.outbox) == 2


def test_normal_announcement_sends_no_immediate_email(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        publish(world["office"], "Routine", everyone=True)
    assert mail.outbox == []


def test_digest_is_sent_once_per_period(world, django_capture_on_commit_callbacks):
    staff = world["north_staff"]
    AnnouncementPreference.objects.create(user=staff, digest="daily")
    publish(world["office"], "First", everyone=True)
    publish(world["office"], "Second", everyone=True)
    assert tasks.send_digest(staff.pk) == 2
    assert tasks.send_digest(staff.pk) == 0  # idempotent within the period
    assert len(mail.outbox) == 1 and "First" in mail.outbox[0].body
    # A day later only what is new (and unread) goes out.
    AnnouncementPreference.objects.filter(user=staff).update(
        last_digest_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    publish(world["office"], "Third", everyone=True)
    assert tasks.send_digest(staff.pk) == 1
    assert "Third" in mail.outbox[1].body and "First" not in mail.outbox[1].body


def test_periodic_receiver_queues_due_digests_and_skips_urgent_already_sent(
    world, django_capture_on_commit_callbacks
):
    AnnouncementPreference.objects.create(user=world["south_staff"], digest="weekly")
    AnnouncementPreference.objects.create(user=world["north_staff"], digest="none")
    with django_capture_on_commit_callbacks(execute=True):
        publish(world["office"], "Urgent", everyone=True, priority="urgent")
    publish(world["office"], "Later", everyone=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())
    bodies = {m.to[0]: m.body for m in mail.outbox}
    assert "ns@example.org" not in bodies  # no digest chosen
    assert "Later" in bodies["ss@example.org"] and "Urgent" not in bodies["ss@example.org"]
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())
    assert len(mail.outbox) == sent  # the receiver is idempotent
    assert AnnouncementEmail.objects.filter(user=world["south_staff"], kind="digest").count() == 1


def test_feeds_by_token(client, world):
    now = timezone.now()
    publish(
        world["north_director"],
        "North training",
        libraries=[world["north"]],
        category="training",
        event_start=now + timedelta(days=3),
        event_end=now + timedelta(days=3, hours=2),
        event_location="Room 1",
    )
    publish(world["south_director"], "South only", libraries=[world["south"]])
    token = selectors.preference_of(world["north_branch_staff"]).feed_token
    rss = client.get(f"/announcements/feed/{token}/rss/")
    assert rss.status_code == 200 and b"<rss" in rss.content
    assert b"North training" in rss.content and b"South only" not in rss.content
    atom = client.get(f"/announcements/feed/{token}/atom/")
    assert b"http://www.w3.org/2005/Atom" in atom.content and b"North training" in atom.content
    ics = client.get(f"/announcements/feed/{token}/calendar.ics")
    assert ics["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(ics.content).walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["North training"]
    assert str(events[0]["LOCATION"]) == "Room 1"
    assert client.get("/announcements/feed/wrong/rss/").status_code == 404
    # Renewing the token revokes the old address.
    client.force_login(world["north_branch_staff"])
    client.post("/announcements/preferences/renew-feed/")
    assert client.get(f"/announcements/feed/{token}/rss/").status_code == 404


def test_preferences_page(client, world):
    client.force_login(world["south_staff"])
    assert client.get("/announcements/preferences/").status_code == 200
    client.post("/announcements/preferences/", {"digest": "daily"})
    pref = AnnouncementPreference.objects.get(user=world["south_staff"])
    assert pref.digest == "daily" and pref.urgent_immediately is False
