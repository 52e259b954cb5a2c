"""Directors sign in with a password and an authenticator code or a passkey, or with a passkey
alone, and reach their dashboard."""

import re

import pytest
from playwright.sync_api import expect

from portal.audit.models import AuditEntry
from tests import factories

# The server thread must see the test's rows; serialized rollback puts back the rows the
# migrations made (Wagtail's root page and site) for the tests that run after these.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery"


@pytest.fixture
def library():
    return factories.library(factories.consortium(), name="Riverside Public Library")


def sign_in(page, email):
    page.goto("/dashboard/")
    # Not signed in yet: the portal sends them to sign in, and back here afterwards.
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def expect_dashboard(page, library):
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
    expect(page.get_by_role("link", name=library.name, exact=True)).to_be_visible()
    panels = page.locator("section.panel")
    expect(panels.first).to_be_visible()
    # Directors vote for their library: the governance panel is theirs.
    expect(page.locator('section.panel[data-plugin="governance"] h2')).to_be_visible()


def test_director_signs_in_with_password_and_authenticator_code(page, library):
    director = factories.member(
        library, "director", email="dir@example.org", full_name="Dana Director", verified=True
    )
    secret = factories.totp(director)

    sign_in(page, "dir@example.org")

    expect(page.get_by_role("heading", level=1)).to_have_text("Two-Factor Authentication")
    page.get_by_label("Code").fill(factories.totp_code(secret))
    page.get_by_role("button", name="Sign In").click()

    expect_dashboard(page, library)
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Dana")


def test_director_without_mfa_is_made_to_set_up_an_authenticator(page, library):
    factories.member(library, "director", email="new-dir@example.org", verified=True)

    sign_in(page, "new-dir@example.org")

    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    expect(page.get_by_role("status")).to_contain_text("requires two-factor authentication")
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    secret = page.get_by_label("Authenticator secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.get_by_label("Authenticator code").fill(factories.totp_code(secret))
    page.get_by_role("button", name="Activate").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Recovery Codes")
    expect(page.get_by_label("Unused codes")).to_have_value(re.compile(r"^\d{8}(\n\d{8}){9}$"))
    page.get_by_role("link", name="Continue to the portal").click()

    expect_dashboard(page, library)


def add_virtual_authenticator(page):
    """Chromium's own WebAuthn authenticator, as built into a laptop: it keeps passkeys and
    checks the person (PIN or fingerprint) without a prompt."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    found = devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return devtools, found["authenticatorId"]


def sign_out(page):
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("banner").get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto("/accounts/login/")


def test_director_adds_a_passkey_then_signs_in_with_it_alone_or_after_the_password(page, library):
    director = factories.member(
        library, "director", email="dir@example.org", full_name="Dana Director", verified=True
    )
    secret = factories.totp(director)
    devtools, authenticator_id = add_virtual_authenticator(page)
    sign_in(page, "dir@example.org")
    page.get_by_label("Code").fill(factories.totp_code(secret))
    page.get_by_role("button", name="Sign In").click()
    expect_dashboard(page, library)

    page.goto("/accounts/2fa/")
    page.get_by_role("link", name="Add a passkey").click()
    # Changing an existing second factor asks for the password again (allauth's rule).
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm Access")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("Name").fill("Office laptop")
    expect(page.get_by_label("Sign in with this passkey alone")).to_be_checked()
    page.get_by_role("button", name="Add").click()

    expect(page).to_have_url(re.compile(r"/accounts/2fa/$"))
    credentials = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert len(credentials["credentials"]) == 1
    assert credentials["credentials"][0]["isResidentCredential"]
    added = AuditEntry.objects.get(action="account.sign_in_method.added")
    assert added.actor == director
    assert added.data == {"method": "webauthn", "name": "Office laptop"}

    # Password-free: the passkey alone, no code.
    sign_out(page)
    page.get_by_role("button", name="Use a passkey").click()
    expect_dashboard(page, library)

    # After a password, the passkey is the second factor in place of the app's code.
    sign_out(page)
    sign_in(page, "dir@example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-Factor Authentication")
    page.get_by_role("button", name="Use a passkey").click()
    expect_dashboard(page, library)
