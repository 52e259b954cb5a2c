"""Every page a person can reach passes axe-core in Chromium with no serious or critical
violation, and loads without a Content-Security-Policy error in the console."""

import re
import time
from urllib.parse import urlsplit

import pytest
from allauth.mfa.models import Authenticator
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import (
    Resolver404,
    URLPattern,
    URLResolver,
    get_resolver,
    resolve,
    reverse,
)

from portal.members.roles import COMMUNICATIONS, CONSORTIUM_ADMIN, DIRECTOR, STAFF, TRAINER
from tests import factories
from tests import test_permission_matrix as matrix

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
    """Give the browser a session for ``user`` (the sign-in form has its own journey);
    ``page`` is a tab or a browser context."""
    client = Client()
    client.force_login(user)
    context = getattr(page, "context", page)
    context.add_cookies(
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


class Requests:
    """The page's requests still in flight, and when the last one started or ended."""

    def __init__(self, page):
        self.page = page
        self.pending: set = set()
        self.last = time.monotonic()
        self.events = {"request": self.started, "requestfinished": self.ended}
        self.events["requestfailed"] = self.ended
        for event, listener in self.events.items():
            page.on(event, listener)

    def started(self, request) -> None:
        self.pending.add(request)
        self.last = time.monotonic()

    def ended(self, request) -> None:
        self.pending.discard(request)
        self.last = time.monotonic()

    def settle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """Until nothing has been in flight for ``quiet`` seconds: Playwright's
        "networkidle", which waits half a second after every page."""
        deadline = time.monotonic() + timeout
        while self.pending or time.monotonic() - self.last < quiet:
            assert time.monotonic() < deadline, f"still loading: {self.pending}"
            self.page.wait_for_timeout(40)

    def stop(self) -> None:
        for event, listener in self.events.items():
            self.page.remove_listener(event, listener)


def check_page(page, url: str) -> None:
    csp_errors = watch_console(page)
    requests = Requests(page)
    try:
        response = page.goto(url)  # returns once the page has loaded, its scripts run
        assert response is not None and response.status == 200, (
            f"{url}: {response and response.status}"
        )
        if url.startswith("/admin/"):
            # The admin fetches parts of a page after it loads; those may trip the CSP too.
            requests.settle()
    finally:
        requests.stop()
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


# --- every page a person can reach ---------------------------------------------------------
#
# The pages are those of the permission matrix: every URL a role may open with GET (and
# the pages Wagtail serves in the page tree), for each role, on the matrix's own world.
# What is not an HTML page (PDFs, feeds, JSON, SVG) is left out; the test client finds
# out cheaply before the browser goes there.

ROLES = [STAFF, COMMUNICATIONS, TRAINER, DIRECTOR, CONSORTIUM_ADMIN]
ACCOUNT_PAGES_ANONYMOUS = [
    "account_signup",
    "account_reset_password_done",
    "account_email_verification_sent",
    "account_inactive",
]
# Staff have no authenticator (they may add one), the director has TOTP.
ACCOUNT_PAGES_SIGNED_IN = [
    "account_email",
    "account_change_password",
    "account_reauthenticate",
    "mfa_index",
    "mfa_activate_totp",
    "mfa_deactivate_totp",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
]


# Pages the journeys' people load, checked there as they load them (axe-core in their tab,
# the Nu checker over the HTML: tests/journeys/test_pages_checked.py): the sweep leaves
# them out. That test fails if a journey stops loading one of them.
JOURNEY_PAGES = {
    CONSORTIUM_ADMIN: {
        "dashboard",
        "governance:proposal",
        "governance:results",
        "governance:meetings",
        "policies:index",
        "policies:detail",
        "policies:report",
        "wagtailadmin_home",
        "wagtailsnippets_governance_proposal:list",
        "wagtailsnippets_governance_proposal:add",
        "notices:list",
    },
    DIRECTOR: {
        "dashboard",
        "governance:proposal",
        "patron_notices:notices",
        "patron_notices:participate",
        "training:library_report",
    },
    STAFF: {"dashboard", "policies:detail", "training:quiz"},
    COMMUNICATIONS: {"dashboard", "wagtailadmin_home", "notices:list", "notices:add"},
}


def checked_by_the_journeys(who: str, url: str | None) -> bool:
    try:
        view = resolve(urlsplit(url or "/").path).view_name
    except Resolver404:
        return False
    return view in JOURNEY_PAGES.get(who, ())


def reachable_pages(world) -> list[tuple[str, str]]:
    """(who, url) for every HTML page each person (and a visitor) is let into, but those
    the journeys check."""
    pages = []
    for name, row in sorted(matrix.MATRIX.items()):
        if row.method != "get":
            continue
        for who in [matrix.ANON, *ROLES]:
            expected = row.expect[who]
            own = expected[0] if isinstance(expected, tuple) else expected
            if own != 200:
                continue
            public = row.expect[matrix.ANON] == expected
            if public and who != matrix.ANON:
                continue  # a public page is the same page for everyone
            kwargs = world.args[row.args][0] if row.args else {}
            pages.append((who, reverse(name, kwargs=kwargs)))
    pages += list(world.tree_pages)
    # The account pages (allauth): signing up and in, passwords, email, two-factor set-up.
    for name in ACCOUNT_PAGES_ANONYMOUS:
        pages.append((matrix.ANON, reverse(name)))
    for who in (STAFF, DIRECTOR):
        pages += [(who, reverse(name)) for name in ACCOUNT_PAGES_SIGNED_IN]
    pages += [(CONSORTIUM_ADMIN, url) for url in admin_pages(world)]
    pages = [(who, url) for who, url in pages if not checked_by_the_journeys(who, url)]
    html = []
    clients = {matrix.ANON: Client()}
    for who in ROLES:
        clients[who] = Client()
        clients[who].force_login(world.people[who])
    for who, url in pages:
        response = clients[who].get(url)
        # A whole document, not a fragment that the admin's scripts fetch into a page.
        if (
            response.status_code == 200
            and response["Content-Type"].startswith("text/html")
            and b"<html" in response.content[:1000]
        ):
            html.append((who, url))
    return html


def admin_pages(world) -> list[str]:
    """The office's Wagtail admin: every page without an argument (listings, forms to add,
    reports, the task metrics) and the editors of an announcement, a policy, a course and
    a proposal."""
    from knowledge_base.policies.models import PolicyPage

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    urls = [
        "/" + route
        for route in walk(get_resolver().url_patterns)
        if route.startswith("admin/")
        and not re.search(r"[<(^$]", route)
        # Wagtail's deliberate error pages and signing out are not pages to read.
        and not re.search(r"(failwhale|test404|logout)", route)
    ]
    policy = PolicyPage.objects.get(code=world.args["policy"][0]["code"])
    pages = [
        world.args["announcement"][0]["pk"],
        policy.pk,
        world.args["course"][0]["course_id"],
    ]
    urls += [reverse("wagtailadmin_pages:edit", args=[pk]) for pk in pages]
    urls.append(
        reverse("wagtailsnippets_governance_proposal:edit", args=[world.args["proposal"][0]["pk"]])
    )
    return sorted(set(urls))


def test_every_page_a_person_can_reach(browser, live_server):
    world = matrix.build_world()
    pages = reachable_pages(world)
    # The matrix gives some hundred and twenty, less the journeys' twenty or so; a short
    # list means the walk went wrong.
    assert len(pages) > 80, pages
    assert any("/accounts/2fa/" in url for _who, url in pages), pages
    assert sum("/admin/" in url for _who, url in pages) > 20, pages
    failures = []
    contexts = {}
    try:
        for who, url in pages:
            if who not in contexts:
                context = browser.new_context(base_url=live_server.url, locale="en-US")
                context.set_default_timeout(10_000)
                if who != matrix.ANON:
                    signed_in(context, live_server, world.people[who])
                contexts[who] = context.new_page()
            cache.clear()  # the API and sign-in rate limits live in the cache
            try:
                check_page(contexts[who], url)
            except AssertionError as problem:
                failures.append(f"[{who}] {problem}")
    finally:
        for tab in contexts.values():
            tab.context.close()
    assert not failures, "\n\n".join(failures)


def test_the_check_finds_a_blocking_violation(page):
    """The check has teeth: a field without a label is a critical violation to axe-core."""
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main>'
        '<input type="text" name="card"></main></body></html>'
    )
    found = {v["id"]: v["impact"] for v in axe.run(page).response["violations"]}
    assert found.get("label") in BLOCKING, found


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


def test_a_chooser_dialog_in_the_admin_has_a_name(page, live_server, world):
    """Wagtail's choosers open in a role="dialog" with no name; the admin's script names it
    after the chooser's heading, so axe-core finds no unnamed dialog while one is open."""
    signed_in(page, live_server, world["office"])
    page.goto("/admin/")
    page.wait_for_load_state("networkidle")
    # The same modal workflow every chooser button opens (page, document, image, snippet).
    page.evaluate("url => window.ModalWorkflow({url})", reverse("wagtailadmin_choose_page"))
    dialog = page.locator('.modal[role="dialog"]')
    dialog.locator(".modal-body h1, .modal-body h2").first.wait_for()
    heading = dialog.locator(".modal-body h1, .modal-body h2").first
    assert dialog.get_attribute("aria-labelledby") == heading.get_attribute("id")
    # The dialog fades in: mid-way its text is pale, which axe-core rightly calls too
    # little contrast. A person reads it once it is there.
    page.evaluate(
        "() => Promise.all([...document.querySelectorAll('.modal, .modal-backdrop')]"
        ".flatMap(el => el.getAnimations({subtree: true})).map(a => a.finished))"
    )
    found = {v["id"]: v["impact"] for v in axe.run(page).response["violations"]}
    assert not {rule for rule, impact in found.items() if impact in BLOCKING}, found
