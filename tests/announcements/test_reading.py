"""The dashboard panel, read tracking, the archive and search."""

import pytest

from plugins.announcements import selectors, services
from plugins.announcements.models import AnnouncementRead

from .conftest import publish

pytestmark = pytest.mark.django_db


def test_panel_pins_urgent_and_puts_unread_first(client, world):
    office = world["office"]
    urgent = publish(office, "Outage", everyone=True, priority="urgent", category="system_outage")
    read = publish(office, "Read one", everyone=True)
    unread = publish(office, "Unread one", everyone=True)
    newest_read = publish(office, "Newest read", everyone=True)
    staff = world["south_staff"]
    AnnouncementRead.objects.create(user=staff, page=read, read_at=read.first_published_at)
    AnnouncementRead.objects.create(user=staff, page=newest_read, read_at=read.first_published_at)
    AnnouncementRead.objects.create(user=staff, page=urgent, read_at=read.first_published_at)
    order = [p.title for p in selectors.for_dashboard(staff)]
    assert order == ["Outage", "Unread one", "Newest read", "Read one"]
    assert selectors.unread_count(staff) == 1
    client.force_login(staff)
    html = client.get("/dashboard/").content.decode()
    assert html.index("Outage") < html.index("Unread one") < html.index("Newest read")
    assert f'data-announcement="{unread.pk}"' in html


def test_mark_read_only_for_the_audience(client, world):
    page = publish(world["north_director"], "North", libraries=[world["north"]])
    client.force_login(world["north_branch_staff"])
    response = client.post(f"/announcements/{page.pk}/read/", {"next": "/dashboard/"})
    assert response.status_code == 302
    assert AnnouncementRead.objects.filter(user=world["north_branch_staff"], page=page).count() == 1
    client.post(f"/announcements/{page.pk}/read/")  # twice is harmless
    assert AnnouncementRead.objects.filter(page=page).count() == 1
    client.force_login(world["south_staff"])
    assert client.post(f"/announcements/{page.pk}/read/").status_code == 404
    assert not AnnouncementRead.objects.filter(user=world["south_staff"]).exists()
    # A foreign redirect target is not followed.
    client.force_login(world["north_staff"])
    response = client.post(f"/announcements/{page.pk}/read/", {"next": "https://evil.example/"})
    assert response["Location"] == "/dashboard/"


def test_detail_and_page_url_only_for_the_audience(client, world):
    page = publish(world["north_director"], "North", libraries=[world["north"]])
    client.force_login(world["north_staff"])
    assert client.get(f"/announcements/{page.pk}/").status_code == 200
    # One address: the page tree's URL leads to the portal's.
    response = client.get(page.url)
    assert response.status_code == 302 and response["Location"] == f"/announcements/{page.pk}/"
    client.force_login(world["south_staff"])
    assert client.get(f"/announcements/{page.pk}/").status_code == 404
    assert client.get(page.url).status_code == 404
    client.logout()
    assert client.get(page.url).status_code == 302


def test_the_index_page_leads_to_the_portal_list_and_offers_no_preview(client, world):
    index = services.announcement_index()
    client.force_login(world["north_staff"])
    response = client.get(index.url)
    assert response.status_code == 302 and response["Location"] == "/announcements/"
    assert not index.is_previewable()


def test_search_category_and_month_archive(client, world):
    office = world["office"]
    publish(
        office,
        "Catalogue upgrade",
        everyone=True,
        category="service_change",
        body="<p>The catalogue goes offline</p>",
    )
    publish(office, "Board meeting", everyone=True, category="governance")
    staff = world["south_staff"]
    assert [p.title for p in selectors.search(staff, q="offline")] == ["Catalogue upgrade"]
    assert [p.title for p in selectors.search(staff, category="governance")] == ["Board meeting"]
    months = selectors.archive_months(staff)
    assert len(months) == 1
    m = months[0]
    assert {p.title for p in selectors.search(staff, year=m.year, month=m.month)} == {
        "Catalogue upgrade",
        "Board meeting",
    }
    assert not selectors.search(staff, year=m.year - 1, month=m.month).exists()
    client.force_login(staff)
    html = client.get("/announcements/", {"q": "catalogue"}).content.decode()
    assert "Catalogue upgrade" in html and "Board meeting" not in html
    html = client.get(f"/announcements/archive/{m.year}/{m.month}/").content.decode()
    assert "Board meeting" in html


def test_the_kept_dashboard_shows_a_read_announcement_at_once(client, world):
    page = publish(world["office"], "Courier late", everyone=True)
    client.force_login(world["south_staff"])
    html = client.get("/dashboard/").content.decode()
    assert "1 unread" in html and "is-unread" in html
    # The kept panel's form carries this browser's own CSRF token.
    token = html.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    client.handler.enforce_csrf_checks = True
    response = client.post(
        f"/announcements/{page.pk}/read/", {"next": "/dashboard/", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    html = client.get("/dashboard/").content.decode()
    assert "0 unread" in html and "is-unread" not in html and "is-read" in html
