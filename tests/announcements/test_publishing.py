"""Who may publish to whom: the office to everyone, a director to their own library only."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from plugins.announcements import selectors, services, wagtail_hooks
from plugins.announcements.models import AnnouncementPage
from portal.audit.models import AuditEntry

from .conftest import publish

pytestmark = pytest.mark.django_db

# The Draftail editor posts its content as JSON.
DRAFTAIL_HELLO = (
    '{"blocks":[{"key":"a","type":"unstyled","depth":0,"text":"Hello",'
    '"inlineStyleRanges":[],"entityRanges":[]}],"entityMap":{}}'
)


def test_director_publishes_to_own_library_and_its_branch(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = publish(
            world["north_director"], "Ours", libraries=[world["north"], world["north_branch"]]
        )
    assert page.live
    assert set(page.audience_libraries.all()) == {world["north"], world["north_branch"]}
    # The office reads every announcement; of the libraries, North and its branch only.
    assert reached(world, page) == {"office", "north_director", "north_staff", "north_branch_staff"}
    assert AuditEntry.objects.filter(
        action="announcements.published", object_id=str(page.pk)
    ).exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"libraries": []},
        {"everyone": True},
        {"libraries": ["south"]},
        {"libraries": ["north", "south_branch"]},
        {"libraries": ["root"]},
    ],
)
def test_director_may_not_address_others(world, fields):
    fields = {
        **fields,
        "libraries": [world[name] for name in fields.get("libraries", [])],
    }
    with pytest.raises(PermissionDenied):
        publish(world["north_director"], "Not allowed", **fields)
    assert not AnnouncementPage.objects.filter(title="Not allowed").exists()


def test_staff_may_not_publish(world):
    with pytest.raises(PermissionDenied):
        publish(world["north_staff"], "Staff", libraries=[world["north"]])


def test_office_publishes_to_everyone(world):
    page = publish(world["office"], "All", everyone=True)
    assert page.audience == AnnouncementPage.Audience.EVERYONE
    people = {name for name, value in world.items() if hasattr(value, "email")}
    assert reached(world, page) == people


def reached(world, page) -> set[str]:
    """Who in the world sees ``page`` among their announcements, by their names there."""
    return {
        name
        for name, person in world.items()
        if hasattr(person, "email")
        and selectors.announcements_for(person).filter(pk=page.pk).exists()
    }


def test_portal_form_director(client, world):
    client.force_login(world["north_director"])
    assert client.get("/announcements/new/").status_code == 200
    response = client.post(
        "/announcements/new/",
        {
            "title": "Closed Monday",
            "body": "We close on Monday.\n\nBack Tuesday.",
            "category": "service_change",
            "priority": "normal",
            "libraries": [world["north"].pk],
        },
    )
    assert response.status_code == 302
    page = AnnouncementPage.objects.get(title="Closed Monday")
    assert page.body == "<p>We close on Monday.</p><p>Back Tuesday.</p>"
    assert list(page.audience_libraries.all()) == [world["north"]]
    # Another system is not offered, and forcing it in is refused by the form.
    response = client.post(
        "/announcements/new/",
        {
            "title": "Sneaky",
            "body": "x",
            "category": "general",
            "priority": "normal",
            "libraries": [world["south"].pk],
            "everyone": "on",
        },
    )
    assert response.status_code == 200
    assert not AnnouncementPage.objects.filter(title="Sneaky").exists()


def test_portal_form_refuses_staff(client, world):
    client.force_login(world["north_staff"])
    assert client.get("/announcements/new/").status_code == 403


def _request(user):
    request = RequestFactory().post("/admin/")
    request.user = user
    return request


def test_wagtail_hooks_check_the_audience(world):
    page = publish(world["office"], "South news", libraries=[world["south"]])
    # A director who somehow reaches the Wagtail editor still cannot publish to another library.
    assert (
        wagtail_hooks.before_publish_announcement(
            _request(world["north_director"]), page
        ).status_code
        == 403
    )
    assert (
        wagtail_hooks.before_edit_announcement(_request(world["north_director"]), page).status_code
        == 403
    )
    assert (
        wagtail_hooks.before_publish_announcement(_request(world["south_director"]), page) is None
    )
    assert wagtail_hooks.before_publish_announcement(_request(world["office"]), page) is None
    denied = wagtail_hooks.before_create_announcement(
        _request(world["north_staff"]), services.announcement_index(), AnnouncementPage
    )
    assert denied.status_code == 403
    assert (
        wagtail_hooks.before_create_announcement(
            _request(world["north_director"]), services.announcement_index(), AnnouncementPage
        )
        is None
    )


def test_office_can_open_the_wagtail_admin_index(client, world):
    client.force_login(world["office"])
    response = client.get("/admin/announcements/open/")
    assert response.status_code == 302
    index = services.announcement_index()
    assert response["Location"].endswith(f"/admin/pages/{index.pk}/")
    add = client.get(f"/admin/pages/add/announcements/announcementpage/{index.pk}/")
    assert add.status_code == 200
    # No autosave on the add screen: its first save turns the screen into the edit screen,
    # and a Publish clicked meanwhile was refused as a second page (WAGTAIL_AUTOSAVE_INTERVAL).
    assert b"data-w-autosave-interval-value" not in add.content


def test_wagtail_admin_publish_by_the_office(client, world):
    client.force_login(world["office"])
    index = services.announcement_index()
    response = client.post(
        f"/admin/pages/add/announcements/announcementpage/{index.pk}/",
        {
            "title": "From the admin",
            "slug": "from-the-admin",
            "body": DRAFTAIL_HELLO,
            "category": "general",
            "priority": "normal",
            "audience": "libraries",
            "audience_libraries": [world["south"].pk],
            "audience_roles": ["staff"],
            "action-publish": "action-publish",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    page = AnnouncementPage.objects.get(title="From the admin")
    assert page.live
    assert page.roles == ["staff"]
    assert [lib.pk for lib in page.audience_libraries.all()] == [world["south"].pk]
