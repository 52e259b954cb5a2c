"""GET /api/v1/announcements/: what is published now for the token's own library."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from plugins.announcements.models import AnnouncementPage
from portal.api import services as api_services
from portal.members.models import LibraryPluginSwitch
from tests.api_support import api_token, bearer_get, fresh_rate_limits  # noqa: F401 - fresh_rate_limits: autouse

from .conftest import publish

URL = "/api/v1/announcements/"


def token_for(world, library, scopes=("announcements:read",)):
    return api_token(world["office"], library, scopes)


def get(client, token, url=URL):
    return bearer_get(client, token, url)


def titles(response):
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["items"]]


def test_a_library_sees_only_what_is_published_for_it(client, world):
    office, north = world["office"], world["north"]
    publish(office, "To everyone", everyone=True)
    publish(office, "To the north system", libraries=[north])
    publish(office, "To the north branch", libraries=[world["north_branch"]])
    publish(office, "To the south", libraries=[world["south"]])
    publish(office, "South branch", libraries=[world["south_branch"]])
    publish(office, "Directors only", everyone=True, roles=["director"])
    publish(office, "Not yet", everyone=True, go_live_at=timezone.now() + timedelta(days=1))
    expired = publish(office, "Expired", everyone=True)
    AnnouncementPage.objects.filter(pk=expired.pk).update(
        expire_at=timezone.now() - timedelta(minutes=1)
    )
    draft = publish(office, "Withdrawn", everyone=True)
    draft.unpublish()

    # A system sees its own, its branches' and everyone's; never its neighbour's.
    assert titles(get(client, token_for(world, north))) == [
        "To the north branch",
        "To the north system",
        "To everyone",
    ]
    # A branch sees what its system was sent, but not what a sibling was sent.
    assert titles(get(client, token_for(world, world["north_branch"]))) == [
        "To the north branch",
        "To the north system",
        "To everyone",
    ]
    assert titles(get(client, token_for(world, world["south_branch"]))) == [
        "South branch",
        "To the south",
        "To everyone",
    ]


def test_only_public_fields_leave(client, world):
    start = timezone.now() + timedelta(days=3)
    page = publish(
        world["office"],
        "Training day",
        body='<p>Bring a <a href="https://example.org/">laptop</a>.</p>',
        everyone=True,
        category="training",
        priority="urgent",
        event_start=start,
        event_end=start + timedelta(hours=2),
        event_location="Main hall",
    )
    [item] = get(client, token_for(world, world["south"])).json()["items"]
    assert set(item) == {
        "id",
        "title",
        "body",
        "category",
        "priority",
        "published_at",
        "event_start",
        "event_end",
        "event_location",
    }
    assert item["id"] == page.pk
    assert item["body"] == '<p>Bring a <a href="https://example.org/">laptop</a>.</p>'
    assert (item["category"], item["priority"], item["event_location"]) == (
        "training",
        "urgent",
        "Main hall",
    )
    assert item["event_start"].startswith(start.strftime("%Y-%m-%dT%H:%M"))


def test_internal_links_are_expanded_to_urls(client, world):
    target = publish(world["office"], "Earlier news", everyone=True)
    publish(
        world["office"],
        "See also",
        body=f'<p>See <a linktype="page" id="{target.pk}">this</a>.</p>',
        everyone=True,
    )
    items = get(client, token_for(world, world["north"])).json()["items"]
    body = next(i["body"] for i in items if i["title"] == "See also")
    assert "linktype" not in body
    assert f'href="{target.url}"' in body


def test_paginated(client, world):
    for n in range(5):
        publish(world["office"], f"News {n}", everyone=True)
    token = token_for(world, world["north"])
    first = get(client, token, URL + "?limit=2").json()
    assert first["count"] == 5
    assert [i["title"] for i in first["items"]] == ["News 4", "News 3"]
    rest = get(client, token, URL + "?limit=2&offset=4").json()
    assert [i["title"] for i in rest["items"]] == ["News 0"]


def test_queries_do_not_grow_with_the_announcements(client, world):
    token = token_for(world, world["north"])
    get(client, token)  # the token's last use is stamped once

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = get(client, token)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    def add(n):
        for i in range(n):
            other = publish(world["office"], f"Linked {i}", everyone=True)
            publish(
                world["office"],
                f"Item {i}",
                body=f'<p><a linktype="page" id="{other.pk}">more</a></p>',
                libraries=[world["north"]],
            )

    add(1)
    queries()  # the site's root paths are cached on first use
    few, count = queries()
    assert count == 2
    add(5)
    many, count = queries()
    assert count == 12
    assert many == few


def test_scope_switch_and_token_are_required(client, world):
    publish(world["office"], "To everyone", everyone=True)
    assert client.get(URL).status_code == 401
    assert get(client, "cnc_nope_nope").status_code == 401
    library_only = token_for(world, world["north"], scopes=("library:read",))
    assert get(client, library_only).status_code == 403
    token = token_for(world, world["north_branch"])
    assert get(client, token).status_code == 200
    # Switched off at the system: its branch's token gets nothing.
    LibraryPluginSwitch.objects.create(library=world["north"], plugin="announcements")
    assert get(client, token).status_code == 404


def test_the_schema_lists_the_endpoint_and_scope(client, world):
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/announcements/" in schema["paths"]
    assert "announcements:read" in api_services.known_scopes()


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "offset=-1", f"offset={2**63}", f"limit={10**25}"]
)
def test_page_bounds_are_refused_not_a_server_error(client, world, query):
    token = token_for(world, world["north"])
    assert get(client, token, f"{URL}?{query}").status_code == 422
