"""Staff sign in through their library's OpenID Connect provider, a real one on loopback."""

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import expect

from portal.audit.models import AuditEntry
from portal.sso.models import IdentityProvider
from portal.sso.services import do_save_provider
from tests import factories

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def libraries(oidc_provider):
    consortium = factories.consortium()
    found = {}
    for code, secret in (("northfield", "northfield-secret"), ("eastbrook", "eastbrook-secret")):
        library = factories.library(consortium, name=f"{code.title()} Library", code=code)
        domain = "northfield.example.edu" if code == "northfield" else "eastbrook.example.org"
        do_save_provider(
            None,
            IdentityProvider(
                library=library,
                name=f"{code.title()} sign-in",
                protocol=IdentityProvider.Protocol.OIDC,
                email_domains=domain,
                issuer=oidc_provider,
                client_id=f"concord-{code}",
                client_secret=secret,
            ),
        )
        found[code] = library
    return found


def sign_in_through_provider(page, email, login):
    page.goto("/dashboard/")
    page.get_by_label("Email").fill(email)
    # Email first: the library signs its people in, so no password is asked for here.
    expect(page.get_by_label("Password")).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text("Northfield sign-in")
    page.get_by_role("button", name="Continue to Northfield sign-in").click()
    # allauth's own page before leaving for the provider (a POST, so no link can start it).
    page.get_by_role("button", name="Continue").click()
    # The provider's own sign-in page, then its consent page.
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_invited_staff_sign_in_through_their_library_and_are_linked_once(page, libraries):
    dana = factories.member(libraries["northfield"], "staff", email="dana@northfield.example.edu")

    sign_in_through_provider(page, "dana@northfield.example.edu", "dana")

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("link", name="Northfield Library", exact=True)).to_be_visible()
    account = SocialAccount.objects.get(user=dana)
    assert account.provider == "library-northfield"
    linked = AuditEntry.objects.get(action="account.sign_in_method.added")
    assert linked.actor == dana
    assert linked.library == libraries["northfield"]
    assert linked.data["method"] == "single_sign_on"


REFUSALS = [
    ("una", "Northfield sign-in did not confirm that una@northfield.example.edu is yours"),
    ("otto", "otto@eastbrook.example.org belongs to Eastbrook Library"),
    ("nell", "Nobody has been invited with nell@northfield.example.edu yet"),
]


def test_a_provider_sign_in_is_refused_with_a_clear_message(browser, live_server, libraries):
    for email in ("una@northfield.example.edu", "otto@eastbrook.example.org"):
        factories.member(libraries["northfield"], "staff", email=email)

    # One browser each: the provider remembers who signed in there.
    for login, message in REFUSALS:
        context = browser.new_context(base_url=live_server.url, locale="en-US")
        try:
            page = context.new_page()
            sign_in_through_provider(page, "someone@northfield.example.edu", login)

            expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in refused")
            expect(page.get_by_role("alert")).to_contain_text(message)
            expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)
        finally:
            context.close()
    assert not SocialAccount.objects.exists()
