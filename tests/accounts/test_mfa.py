"""Two-factor authentication: required for directors and consortium admins, nobody else."""

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY
from django.urls import reverse

from portal.audit.models import AuditEntry
from tests import factories

PASSWORD = "correct horse battery"


@pytest.fixture
def library(db):
    return factories.library(factories.consortium(), name="Riverside Public Library")


def sign_in(client, email, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def give_code(client, code):
    return client.post(reverse("mfa_authenticate"), {"code": code})


def signed_in_as(client):
    return client.session.get("_auth_user_id")


@pytest.mark.parametrize("role", ["director", "consortium_admin"])
def test_role_without_mfa_is_sent_to_totp_activation(client, library, role):
    factories.member(library, role, email="dir@example.org", verified=True)

    sign_in(client, "dir@example.org")
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")
    # Any portal page, not only the dashboard; the Wagtail admin too.
    assert client.get(f"/libraries/{library.code}/").url == reverse("mfa_activate_totp")
    assert client.get("/admin/").url == reverse("mfa_activate_totp")
    # Account pages stay reachable: that is where MFA is set up, and where one signs out.
    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.get(reverse("account_email")).status_code == 200


@pytest.mark.parametrize("role", ["staff", "communications", "trainer"])
def test_other_roles_are_not_forced_into_mfa(client, library, role):
    factories.member(library, role, email="ana@example.org", verified=True)

    response = sign_in(client, "ana@example.org")

    assert response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200
    assert not Authenticator.objects.exists()


def test_director_sets_up_totp_then_sees_recovery_codes_then_returns(client, library):
    director = factories.member(library, "director", email="dir@example.org", verified=True)
    sign_in(client, "dir@example.org")
    wanted = f"/libraries/{library.code}/"
    assert client.get(wanted).url == reverse("mfa_activate_totp")

    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    html = page.text
    assert "Your role requires two-factor authentication" in html
    assert '<label for="authenticator_secret">' in html
    assert 'aria-describedby="authenticator_secret_helptext"' in html
    assert 'alt="QR code for your authenticator app' in html
    secret = client.session[SECRET_SESSION_KEY]
    assert f'value="{secret}"' in html

    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=director).exists()

    response = client.post(reverse("mfa_activate_totp"), {"code": factories.totp_code(secret)})

    assert response.status_code == 302
    assert response.url == reverse("mfa_view_recovery_codes")
    assert set(Authenticator.objects.filter(user=director).values_list("type", flat=True)) == {
        Authenticator.Type.TOTP,
        Authenticator.Type.RECOVERY_CODES,
    }
    codes_page = client.get(reverse("mfa_view_recovery_codes")).text
    codes = RecoveryCodes(
        Authenticator.objects.get(user=director, type=Authenticator.Type.RECOVERY_CODES)
    ).get_unused_codes()
    assert all(code in codes_page for code in codes)
    # The way back leads to the page they first asked for.
    assert re.search(rf'<a class="button" href="{wanted}">Continue to the portal</a>', codes_page)
    assert client.get(wanted).status_code == 200
    assert client.get(reverse("dashboard")).status_code == 200


def test_director_with_totp_must_give_the_code_at_login(client, library):
    director = factories.member(library, "director", email="dir@example.org", verified=True)
    secret = factories.totp(director)

    response = sign_in(client, "dir@example.org")

    assert response.status_code == 302
    assert response.url == reverse("mfa_authenticate")
    assert signed_in_as(client) is None
    # Half signed in is not signed in.
    assert client.get(reverse("dashboard")).url.startswith(reverse("account_login"))
    page = client.get(reverse("mfa_authenticate"))
    assert page.status_code == 200
    assert '<label for="id_code">' in page.text

    wrong = give_code(client, "000000")
    assert wrong.status_code == 200
    assert "Incorrect code" in wrong.text
    assert signed_in_as(client) is None

    response = give_code(client, factories.totp_code(secret))

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert signed_in_as(client) == str(director.pk)
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert "Riverside Public Library" in dashboard.text


def test_a_totp_code_works_once(client, library):
    director = factories.member(library, "director", email="dir@example.org", verified=True)
    secret = factories.totp(director)
    code = factories.totp_code(secret)
    sign_in(client, "dir@example.org")
    give_code(client, code)
    assert signed_in_as(client) == str(director.pk)
    client.post(reverse("account_logout"))

    sign_in(client, "dir@example.org")
    response = give_code(client, code)

    assert response.status_code == 200
    assert signed_in_as(client) is None


def test_recovery_codes_work_once_each(client, library):
    director = factories.member(library, "director", email="dir@example.org", verified=True)
    factories.totp(director)
    first, second = RecoveryCodes(
        Authenticator.objects.get(user=director, type=Authenticator.Type.RECOVERY_CODES)
    ).get_unused_codes()[:2]

    sign_in(client, "dir@example.org")
    response = give_code(client, first)
    assert response.url == reverse("dashboard")
    assert signed_in_as(client) == str(director.pk)
    client.post(reverse("account_logout"))
    assert signed_in_as(client) is None

    sign_in(client, "dir@example.org")
    response = give_code(client, first)
    assert response.status_code == 200
    assert "Incorrect code" in response.text
    assert signed_in_as(client) is None

    response = give_code(client, second)
    assert response.url == reverse("dashboard")
    assert signed_in_as(client) == str(director.pk)
    rc = Authenticator.objects.get(user=director, type=Authenticator.Type.RECOVERY_CODES)
    assert len(RecoveryCodes(rc).get_unused_codes()) == len(RecoveryCodes(rc).generate_codes()) - 2


def test_director_with_mfa_is_not_redirected(client, library):
    director = factories.member(library, "director", verified=True)
    factories.totp(director)
    client.force_login(director)

    assert client.get(reverse("dashboard")).status_code == 200


def test_setting_up_mfa_after_an_old_sign_in_asks_for_the_password_again(client, library, settings):
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0
    factories.member(library, "director", email="dir@example.org", verified=True)
    sign_in(client, "dir@example.org")

    response = client.get(reverse("mfa_activate_totp"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_reauthenticate"))


def test_changing_an_existing_second_factor_asks_for_the_password_again(client, library):
    director = factories.member(library, "director", email="dir@example.org", verified=True)
    secret = factories.totp(director)
    sign_in(client, "dir@example.org")
    give_code(client, factories.totp_code(secret))

    for name in ("mfa_deactivate_totp", "mfa_view_recovery_codes", "mfa_generate_recovery_codes"):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("account_reauthenticate")), name


def test_the_second_factor_page_offers_a_passkey_only_to_someone_who_has_one(client, library):
    director = factories.member(library, "director", email="dir@example.org", verified=True)
    factories.totp(director)

    sign_in(client, "dir@example.org")
    page = client.get(reverse("mfa_authenticate")).text

    assert '<label for="id_code">' in page
    assert "Use a passkey" not in page
    assert "webauthn.js" not in page


def test_setting_up_and_removing_an_authenticator_app_is_recorded(
    client, library, django_capture_on_commit_callbacks
):
    director = factories.member(library, "director", email="dir@example.org", verified=True)
    sign_in(client, "dir@example.org")
    client.get(reverse("mfa_activate_totp"))
    secret = client.session[SECRET_SESSION_KEY]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mfa_activate_totp"), {"code": factories.totp_code(secret)})

    added = AuditEntry.objects.filter(action="account.sign_in_method.added")
    assert sorted(entry.data["method"] for entry in added) == ["recovery_codes", "totp"]
    assert {entry.actor for entry in added} == {director}

    # Removing it asks for the password again first.
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mfa_deactivate_totp"))

    assert response.status_code == 302
    # Without the app, the recovery codes go too.
    removed = AuditEntry.objects.filter(action="account.sign_in_method.removed")
    assert sorted(entry.data["method"] for entry in removed) == ["recovery_codes", "totp"]
    assert {entry.actor for entry in removed} == {director}


def test_a_director_sent_to_set_up_an_app_may_add_a_passkey_instead(client, library):
    factories.member(library, "director", email="dir@example.org", verified=True)
    sign_in(client, "dir@example.org")

    page = client.get(reverse("mfa_activate_totp")).text
    assert f'<a href="{reverse("mfa_add_webauthn")}">Add a passkey instead</a>' in page

    # Right after signing in with a password, no second password prompt for the first one.
    response = client.get(reverse("mfa_add_webauthn"))
    assert response.status_code == 200
    assert "Sign in with this passkey alone" in response.text
