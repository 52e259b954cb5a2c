"""The announcement feeds read by parsers Concord did not write: the iCalendar feed by
Mozilla's ical.js (tests/node/parse_ics.js) and RFC 5545's line rules, the Atom and RSS
feeds by feedparser, which flags any feed that is not well-formed ("bozo")."""

import json
from datetime import UTC, timedelta

import feedparser
import pytest
from django.utils import timezone

from plugins.announcements import selectors
from tests.node_tools import node

from .conftest import publish

pytestmark = pytest.mark.django_db

# A title long enough to fold, and the characters iCalendar and XML must escape.
LONG_TITLE = "Training day: cataloguing, RDA; and the new ILS — Łódź & Zürich <together> " * 2


@pytest.fixture
def announcements(world):
    start = timezone.now().replace(microsecond=0) + timedelta(days=3)
    event = publish(
        world["north_director"],
        LONG_TITLE.strip(),
        libraries=[world["north"]],
        category="training",
        body="<p>Bring a laptop; lunch, coffee &amp; notes provided.</p><p>Room 1, 2nd floor.</p>",
        event_start=start,
        event_end=start + timedelta(hours=2),
        event_location="Room 1, Main Library; 2nd floor",
    )
    plain = publish(world["north_director"], "Opening hours", libraries=[world["north"]])
    token = selectors.preference_of(world["north_branch_staff"]).feed_token
    return {"event": event, "plain": plain, "token": token, "start": start}


def test_calendar_parses_with_ical_js(client, announcements, tmp_path):
    content = client.get(f"/announcements/feed/{announcements['token']}/calendar.ics").content
    # RFC 5545 3.1: lines end in CRLF and are folded at 75 octets.
    lines = content.split(b"\r\n")
    assert lines[-1] == b"" and all(b"\n" not in line for line in lines)
    assert max(len(line) for line in lines) <= 75
    path = tmp_path / "announcements.ics"
    path.write_bytes(content)
    run = node("parse_ics.js", str(path))
    assert run.returncode == 0, run.stderr
    parsed = json.loads(run.stdout)
    assert parsed["calendar"]["name"] == "vcalendar"
    assert parsed["calendar"]["version"] == "2.0"
    assert parsed["calendar"]["prodid"] == "-//Concord//Announcements//EN"
    (event,) = parsed["events"]
    page, start = announcements["event"], announcements["start"]
    assert event["summary"] == LONG_TITLE.strip()
    assert event["location"] == "Room 1, Main Library; 2nd floor"
    assert event["description"] == (
        "Bring a laptop; lunch, coffee & notes provided.\nRoom 1, 2nd floor."
    )
    assert event["start"] == start.astimezone(UTC).isoformat().replace("+00:00", ".000Z")
    assert event["end"] == (start + timedelta(hours=2)).astimezone(UTC).isoformat().replace(
        "+00:00", ".000Z"
    )
    assert event["uid"] == f"announcement-{page.pk}@testserver" and event["dtstamp"]
    assert event["url"] == f"http://testserver/announcements/{page.pk}/"


@pytest.mark.parametrize("kind, version", [("atom", "atom10"), ("rss", "rss20")])
def test_feeds_parse_with_feedparser(client, announcements, kind, version):
    response = client.get(f"/announcements/feed/{announcements['token']}/{kind}/")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == version
    assert feed.feed.title == "Announcements"
    titles = {entry.title: entry for entry in feed.entries}
    assert set(titles) == {LONG_TITLE.strip(), "Opening hours"}
    entry = titles[LONG_TITLE.strip()]
    assert entry.link.endswith(f"/announcements/{announcements['event'].pk}/")
    assert entry.published_parsed and "Bring a laptop" in entry.summary
    assert [tag.term for tag in entry.tags] == ["Training"]
    if kind == "atom":
        assert entry.id and entry.updated_parsed
