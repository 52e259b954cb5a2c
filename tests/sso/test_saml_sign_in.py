"""Staff sign in through their library's SAML 2.0 provider, a real one (pysaml2) on loopback;
assertions that are expired, addressed to another service or replayed are refused."""

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import expect

from portal.sso.models import IdentityProvider
from portal.sso.services import do_save_provider
from tests import factories

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def southbank(saml_idp):
    library = factories.library(factories.consortium(), name="Southbank Library", code="southbank")
    do_save_provider(
        None,
        IdentityProvider(
            library=library,
            name="Southbank campus sign-in",
            protocol=IdentityProvider.Protocol.SAML,
            email_domains="southbank.example.edu",
            entity_id=saml_idp.entity_id,
            metadata_xml=saml_idp.metadata_xml(),
        ),
    )
    return library


def sign_in_through_campus(page, login, mfa=False):
    page.goto("/dashboard/")
    page.get_by_label("Email").fill("sam@southbank.example.edu")
    page.get_by_role("button", name="Continue to Southbank campus sign-in").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Southbank campus sign-in")
    page.get_by_label("Campus login").fill(login)
    if mfa:
        page.get_by_label("Also used my security key").check()
    with page.expect_request(re.compile(r"/acs/$")) as posted:
        page.get_by_role("button", name="Log in to Southbank").click()
    return posted.value


def test_staff_sign_in_through_the_campus_provider_and_its_answer_works_once(page, southbank):
    sam = factories.member(southbank, "staff", email="sam@southbank.example.edu")

    answer = sign_in_through_campus(page, "sam")

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("link", name="Southbank Library", exact=True)).to_be_visible()
    assert SocialAccount.objects.get(user=sam).provider == "library-southbank"

    # The same signed answer, sent again by someone who caught it, signs nobody in.
    page.context.clear_cookies()
    replay = page.request.post(
        answer.url,
        data=answer.post_data,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert replay.status == 403
    assert "it was already used" in replay.text()
    page.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_a_campus_answer_that_is_stale_or_astray_is_refused(browser, live_server, southbank):
    factories.member(southbank, "staff", email="sam@southbank.example.edu")

    for login, message in (("stale", "expired"), ("astray", "addressed to another service")):
        context = browser.new_context(base_url=live_server.url, locale="en-US")
        try:
            page = context.new_page()
            sign_in_through_campus(page, login)

            expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in refused")
            expect(page.get_by_role("alert")).to_contain_text(message)
        finally:
            context.close()
    assert not SocialAccount.objects.exists()


def test_a_director_needs_no_second_code_when_the_campus_says_it_used_two_factors(
    page, browser, live_server, southbank
):
    provider = IdentityProvider.objects.get()
    provider.counts_as_second_factor = True
    do_save_provider(None, provider)
    director = factories.member(southbank, "director", email="sam@southbank.example.edu")
    factories.totp(director)

    # A password alone at the campus: Concord asks for its own second factor.
    sign_in_through_campus(page, "sam")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-Factor Authentication")

    # The campus states it used a security key too (REFEDS MFA): that is enough.
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        second = context.new_page()
        sign_in_through_campus(second, "sam", mfa=True)
        expect(second).to_have_url(re.compile(r"/dashboard/$"))
    finally:
        context.close()
