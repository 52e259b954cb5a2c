"""How announcements look and are reached: one address, a small "Mark as read", Urgent as
a badge, libraries picked grouped by system, a calendar that holds every coming event."""

import time
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import formats, timezone
from icalendar import Calendar

from plugins.announcements import selectors
from plugins.announcements.models import AnnouncementPage

from .conftest import publish

pytestmark = pytest.mark.django_db


def test_the_new_announcement_form_groups_libraries_by_system(client, world):
    client.force_login(world["office"])
    html = client.get("/announcements/new/").content.decode()
    assert "<legend>North System</legend>" in html and "<legend>South System</legend>" in html
    assert "North Branch (branch)" in html and "data-library-picker" in html


def test_publishing_to_ticked_libraries_through_the_form(client, world):
    client.force_login(world["office"])
    response = client.post(
        "/announcements/new/",
        {
            "title": "Courier schedule",
            "body": "Tuesdays only.",
            "category": "general",
            "priority": "normal",
            "libraries": [world["south"].pk],
        },
    )
    assert response.status_code == 302
    page = AnnouncementPage.objects.get(title="Courier schedule")
    assert list(page.audience_libraries.all()) == [world["south"]]


def test_urgent_is_a_badge_and_mark_as_read_a_small_control(client, world):
    page = publish(world["office"], "Outage tonight", everyone=True, priority="urgent")
    client.force_login(world["north_staff"])
    html = client.get(f"/announcements/{page.pk}/").content.decode()
    assert '<strong class="badge urgent">Urgent</strong>' in html
    assert '<button type="submit" class="link-button">Mark as read</button>' in html
    dashboard = client.get("/dashboard/").content.decode()
    assert 'class="link-button">Mark as read</button>' in dashboard


def test_the_list_links_each_announcement_at_its_one_address(client, world):
    page = publish(world["office"], "Holiday closing", everyone=True)
    client.force_login(world["north_staff"])
    html = client.get("/announcements/").content.decode()
    assert f'href="/announcements/{page.pk}/"' in html
    assert f'href="{page.url}"' not in html


def test_the_calendar_holds_every_coming_event_and_the_past_year(client, world):
    now = timezone.now()
    for n in range(3):
        publish(world["office"], f"Coming {n}", everyone=True, event_start=now + timedelta(n))
    publish(world["office"], "Last year", everyone=True, event_start=now - timedelta(days=300))
    publish(world["office"], "Long ago", everyone=True, event_start=now - timedelta(days=800))
    token = selectors.preference_of(world["north_staff"]).feed_token
    response = client.get(f"/announcements/feed/{token}/calendar.ics")
    calendar = Calendar.from_ical(response.content)
    titles = {str(event["summary"]) for event in calendar.walk("VEVENT")}
    assert titles == {"Coming 0", "Coming 1", "Coming 2", "Last year"}


def test_one_date_format_short_and_long():
    day = date(2026, 12, 17)
    assert formats.date_format(day, "SHORT_DATE_FORMAT") == "Dec. 17, 2026"
    assert formats.date_format(day, "DATE_FORMAT") == "Dec. 17, 2026"


def test_the_editor_shows_whom_a_saved_announcement_reaches(client, world):
    page = publish(world["office"], title="Courier news", everyone=True)
    client.force_login(world["office"])
    html = client.get(reverse("wagtailadmin_pages:edit", args=[page.pk])).content.decode()
    count = selectors.recipients(page).count()
    assert count > 0
    assert f'data-audience-reach="{count}"' in html
    add = client.get(f"/admin/pages/add/announcements/announcementpage/{page.get_parent().pk}/")
    assert "Save a draft to see how many people this announcement reaches." in add.content.decode()


def test_the_editor_previews_an_announcement_without_a_read_control(client, world):
    page = publish(world["office"], title="Courier news", everyone=True)
    revision = page.save_revision()
    client.force_login(world["office"])
    preview = client.get(reverse("wagtailadmin_pages:revisions_view", args=[page.pk, revision.pk]))
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "<h1>Courier news</h1>" in html
    assert "Mark as read" not in html


def test_the_kept_list_shows_a_new_announcement_and_a_reading_at_once(client, world):
    # The person's list is kept between visits (portal.home.kept): what the office
    # published and what the person read since must show on the next one.
    first = publish(world["office"], "Holiday closing", everyone=True)
    client.force_login(world["north_staff"])
    html = client.get("/announcements/").content.decode()
    assert "Holiday closing" in html and html.count("is-unread") == 1
    publish(world["office"], "Courier schedule", everyone=True)
    html = client.get("/announcements/").content.decode()
    assert "Courier schedule" in html and html.count("is-unread") == 2
    client.post(f"/announcements/{first.pk}/read/")
    html = client.get("/announcements/").content.decode()
    assert html.count("is-unread") == 1 and html.count("is-read") == 1
    # Another person's list is their own.
    client.force_login(world["south_staff"])
    assert client.get("/announcements/").content.decode().count("is-unread") == 2


def test_the_kept_list_drops_an_announcement_when_it_expires(client, world):
    # Nothing is written when an announcement expires: the list is kept no longer.
    publish(
        world["office"],
        "Closed this afternoon",
        everyone=True,
        expire_at=timezone.now() + timedelta(seconds=2),
    )
    client.force_login(world["north_staff"])
    assert "Closed this afternoon" in client.get("/announcements/").content.decode()
    time.sleep(2.5)
    assert "Closed this afternoon" not in client.get("/announcements/").content.decode()
