"""Every page a person can reach passes axe-core in Chromium with no serious or critical
violation, and loads without a Content-Security-Policy error in the console."""

import pytest
from allauth.mfa.models import Authenticator
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client

from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BLOCKING = {"serious", "critical"}
axe = Axe()


def with_mfa(user):
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    return user


def signed_in(page, live_server, user):
    """Give the browser a session for ``user`` (the sign-in form has its own journey)."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page


def watch_console(page) -> list[str]:
    """Collects the CSP violations the browser reports while the page loads and runs."""
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    return errors


def check_page(page, url: str) -> None:
    csp_errors = watch_console(page)
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    page.wait_for_load_state("networkidle")
    results = axe.run(page)
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]
    assert not blocking, f"{url}:\n" + "\n".join(blocking)
    assert not csp_errors, f"{url}: {csp_errors}"


@pytest.fixture
def world():
    root = factories.consortium(name="Lakeshore Library Consortium")
    system = factories.library(root, name="Riverside Library System")
    branch = factories.library(system, name="Riverside Main")
    return {
        "root": root,
        "system": system,
        "branch": branch,
        "staff": factories.member(branch, STAFF, full_name="Sam Staff", verified=True),
        "director": with_mfa(
            factories.member(system, DIRECTOR, full_name="Dana Director", verified=True)
        ),
        "office": with_mfa(
            factories.member(root, CONSORTIUM_ADMIN, full_name="Olive Office", verified=True)
        ),
    }


PUBLIC_PAGES = ["/", "/accounts/login/", "/accounts/password/reset/"]


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages(page, world, url):
    check_page(page, url)


def staff_pages(world):
    return [
        "/dashboard/",
        f"/libraries/{world['branch'].code}/",
        "/governance/",
        "/policies/",
        "/training/me/",
        "/announcements/",
    ]


def director_pages(world):
    return [
        "/dashboard/",
        f"/libraries/{world['system'].code}/",
        f"/libraries/{world['system'].code}/people/",
        "/governance/",
        "/policies/",
        "/training/me/",
        "/announcements/",
        "/patron-notices/",
    ]


def test_a_staff_members_pages(page, live_server, world):
    signed_in(page, live_server, world["staff"])
    for url in staff_pages(world):
        check_page(page, url)


def test_a_directors_pages(page, live_server, world):
    signed_in(page, live_server, world["director"])
    for url in director_pages(world):
        check_page(page, url)


def test_the_wagtail_admin_dashboard_loads_under_the_policy(page, live_server, world):
    """The office works in the Wagtail admin: its scripts must run under the CSP."""
    signed_in(page, live_server, world["office"])
    csp_errors = watch_console(page)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    response = page.goto("/admin/")
    assert response.status == 200
    page.wait_for_load_state("networkidle")
    # The sidebar is drawn by the admin's JavaScript: it only appears if the scripts ran.
    page.locator("[data-side-panel-toggle], #wagtail-sidebar nav, .sidebar").first.wait_for()
    assert not csp_errors, csp_errors
    assert not page_errors, page_errors
