"""Signing in by email: verified addresses only, password reset, rate limits."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests import factories

PASSWORD = "correct horse battery"


@pytest.fixture
def library(db):
    return factories.library(factories.consortium(), name="Riverside Public Library")


def sign_in(client, email, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def test_login_by_email_goes_to_the_dashboard(client, library):
    user = factories.member(library, "staff", email="ana@example.org", verified=True)

    response = sign_in(client, "ana@example.org")

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert signed_in_as(client) == str(user.pk)
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert "Riverside Public Library" in dashboard.text


def test_login_ignores_the_case_of_the_address(client, library):
    user = factories.member(library, "staff", email="ana@example.org", verified=True)

    sign_in(client, "Ana@Example.ORG")

    assert signed_in_as(client) == str(user.pk)


def test_wrong_password_fails(client, library):
    factories.member(library, "staff", email="ana@example.org", verified=True)

    response = sign_in(client, "ana@example.org", "not the password")

    assert response.status_code == 200
    assert signed_in_as(client) is None
    assert "email address and/or password you specified are not correct" in response.text
    # The error is announced to screen readers.
    assert 'class="form-errors" role="alert"' in response.text


def test_unverified_address_cannot_log_in_until_confirmed(client, library):
    user = factories.member(library, "staff", email="new@example.org")

    response = sign_in(client, "new@example.org")

    # allauth refuses the session and sends a confirmation link instead.
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert signed_in_as(client) is None
    assert client.get(reverse("dashboard")).status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.org"]
    assert mail.outbox[0].subject.startswith(f"[{library.get_root().name}] ")
    confirm_url = re.search(r"https?://[^/]+(/accounts/confirm-email/\S+/)", mail.outbox[0].body)[1]

    assert client.post(confirm_url).status_code == 302
    assert user.emailaddress_set.get().verified
    sign_in(client, "new@example.org")
    assert signed_in_as(client) == str(user.pk)


def test_password_reset_sends_a_working_link(client, library):
    user = factories.member(library, "staff", email="ana@example.org", verified=True)

    response = client.post(reverse("account_reset_password"), {"email": "ana@example.org"})

    assert response.status_code == 302
    assert response.url == reverse("account_reset_password_done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ana@example.org"]
    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+/)", mail.outbox[0].body)[1]
    # The key moves from the URL into the session before the form is shown.
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    form_url = form_page.redirect_chain[-1][0]
    assert "set-password" in form_url

    new_password = "a brand new passphrase"
    response = client.post(form_url, {"password1": new_password, "password2": new_password})

    assert response.status_code == 302
    assert response.url == reverse("account_reset_password_from_key_done")
    user.refresh_from_db()
    assert user.check_password(new_password)
    # The link works once.
    again = client.get(link, follow=True)
    assert again.context["token_fail"] is True
    sign_in(client, "ana@example.org", PASSWORD)
    assert signed_in_as(client) is None
    sign_in(client, "ana@example.org", new_password)
    assert signed_in_as(client) == str(user.pk)


def test_login_is_blocked_after_too_many_failures(client, library, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,3/5m/key"}
    user = factories.member(library, "staff", email="ana@example.org", verified=True)
    factories.member(library, "staff", email="bo@example.org", verified=True)

    for _ in range(3):
        response = sign_in(client, "ana@example.org", "guess")
        assert "not correct" in response.text

    # Even the right password is refused now, for this address only.
    response = sign_in(client, "ana@example.org")
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.text
    assert signed_in_as(client) is None
    sign_in(client, "bo@example.org")
    assert signed_in_as(client) is not None
    assert signed_in_as(client) != str(user.pk)


def test_nobody_can_sign_themselves_up(client, db):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "x@example.org",
            "password1": "a long passphrase",
            "password2": "a long passphrase",
        },
    )

    assert response.status_code == 200
    assert "account/signup_closed.html" in [t.name for t in response.templates]
    assert not factories.get_user_model().objects.filter(email="x@example.org").exists()


def test_login_page_wears_the_portal_layout(client, db):
    response = client.get(reverse("account_login"))

    assert response.status_code == 200
    html = response.text
    assert '<html lang="en">' in html
    assert 'class="skip-link"' in html
    assert "<title>Sign in · Concord</title>" in html
    assert "accounts/accounts.css" in html
    assert '<label for="id_login">' in html
    assert '<label for="id_password">' in html
    assert reverse("account_reset_password") in html
    assert "sign up" not in html.lower()


def test_login_page_is_translated(client, db):
    response = client.get(reverse("account_login"), headers={"accept-language": "fr"})

    assert '<html lang="fr">' in response.text
    assert "Mot de passe" in response.text


def test_wagtail_admin_login_goes_through_allauth(client, db):
    response = client.get(reverse("wagtailadmin_login") + "?next=/admin/pages/")

    assert response.status_code == 302
    assert response.url == reverse("account_login") + "?next=%2Fadmin%2Fpages%2F"
    # Off-site `next` values are dropped.
    response = client.get(reverse("wagtailadmin_login") + "?next=https://evil.example/")
    assert response.url == reverse("account_login")


def test_signed_in_person_without_admin_access_is_not_sent_round_in_circles(client, db):
    tree = factories.tree(systems=1, branches=0)
    staff = factories.member(tree["systems"][0], "staff")
    client.force_login(staff)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert len(response.redirect_chain) <= 3
    assert response.status_code == 200


def test_an_address_a_library_vouches_for_goes_to_its_provider_without_a_password(client, db):
    from portal.sso.models import IdentityProvider
    from portal.sso.services import do_save_provider

    library = factories.library(factories.consortium(), name="Northfield", code="northfield")
    do_save_provider(
        None,
        IdentityProvider(
            library=library,
            name="Northfield sign-in",
            protocol=IdentityProvider.Protocol.OIDC,
            email_domains="northfield.example.edu",
            issuer="https://login.northfield.example.edu",
            client_id="concord",
            client_secret="s3cret",
        ),
    )
    page = client.get(reverse("account_login") + "?next=/dashboard/").text
    assert '{"northfield.example.edu": "Northfield sign-in"}' in page

    response = client.post(
        reverse("account_login") + "?next=/dashboard/",
        {"login": "Ana@Northfield.example.edu", "next": "/dashboard/"},
    )

    assert response.status_code == 302
    assert response.url == (
        "/accounts/oidc/library-northfield/login/?process=login&next=%2Fdashboard%2F"
    )
    assert signed_in_as(client) is None
    # Anyone else is asked for their password.
    response = client.post(reverse("account_login"), {"login": "ana@example.org"})
    assert response.status_code == 200
    assert "Enter your password." in response.text
