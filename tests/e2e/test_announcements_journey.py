"""A director publishes to their library; its staff read it; other libraries' staff never do."""

import re

import pytest
from playwright.sync_api import expect

from plugins.announcements.models import AnnouncementPage, AnnouncementRead
from tests import factories

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery"
TITLE = "Catalogue offline on Sunday"


def sign_in(page, email, totp_secret=None):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if totp_secret:
        page.get_by_label("Code").fill(factories.totp_code(totp_secret))
        page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()


def test_director_publishes_and_only_their_staff_read_it(page):
    root = factories.consortium()
    riverside = factories.library(root, name="Riverside Library System")
    hillside = factories.library(root, name="Hillside Library System")
    director = factories.member(riverside, "director", email="dir@example.org", verified=True)
    secret = factories.totp(director)
    factories.member(riverside, "staff", email="staff@example.org", verified=True)
    factories.member(hillside, "staff", email="other@example.org", verified=True)

    # The director writes to Riverside's staff from the portal.
    sign_in(page, "dir@example.org", secret)
    page.goto("/announcements/new/")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Message").fill("The catalogue is upgraded on Sunday.\n\nHolds are kept.")
    page.get_by_label("Category").select_option("service_change")
    page.get_by_label("Riverside Library System").check()
    expect(page.get_by_label("Hillside Library System")).to_have_count(0)  # not theirs to address
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Announcement published.")).to_be_visible()
    announcement = AnnouncementPage.objects.get(title=TITLE)
    assert announcement.live
    sign_out(page)

    # Riverside staff see it on the dashboard, unread, and mark it read.
    sign_in(page, "staff@example.org")
    panel = page.locator('section.panel[data-plugin="announcements"]')
    item = panel.locator(f'[data-announcement="{announcement.pk}"]')
    expect(item).to_contain_text(TITLE)
    expect(item).to_have_class(re.compile("is-unread"))
    item.get_by_role("button", name="Mark as read").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    item = page.locator(f'[data-announcement="{announcement.pk}"]')
    expect(item).to_have_class(re.compile("is-read"))
    expect(item.get_by_text("Read", exact=True)).to_be_visible()
    assert AnnouncementRead.objects.filter(user__email="staff@example.org").count() == 1
    sign_out(page)

    # Hillside staff do not see it, on the dashboard or by its address.
    sign_in(page, "other@example.org")
    expect(page.locator('section.panel[data-plugin="announcements"]')).to_be_visible()
    expect(page.get_by_text(TITLE)).to_have_count(0)
    response = page.goto(f"/announcements/{announcement.pk}/")
    assert response.status == 404
