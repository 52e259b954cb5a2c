"""Connecting a library's identity provider: who may, and which settings hold together."""

import pytest
from allauth.socialaccount.models import SocialApp
from django.core.exceptions import PermissionDenied, ValidationError

from portal.sso.models import IdentityProvider
from portal.sso.services import (
    check_save_provider,
    do_save_provider,
    provider_for_email,
    provider_states_mfa,
)
from tests import factories


def oidc(library, domains="northfield.example.edu"):
    return IdentityProvider(
        library=library,
        name="Northfield sign-in",
        protocol=IdentityProvider.Protocol.OIDC,
        email_domains=domains,
        issuer="https://login.northfield.example.edu",
        client_id="concord",
        client_secret="s3cret",
    )


@pytest.fixture
def libraries(db):
    consortium = factories.consortium()
    return [factories.library(consortium, name=f"Library {n}") for n in (1, 2)]


def test_a_director_connects_their_own_library_only(libraries):
    mine, theirs = libraries
    director = factories.member(mine, "director")

    check_save_provider(director, oidc(mine))
    with pytest.raises(PermissionDenied):
        check_save_provider(director, oidc(theirs))
    with pytest.raises(PermissionDenied):
        check_save_provider(factories.member(mine, "staff"), oidc(mine))


def test_saving_keeps_allauths_app_in_step_and_routes_the_domains(libraries):
    office = factories.member(libraries[0].get_root(), "consortium_admin")
    provider = do_save_provider(
        office, oidc(libraries[0], "Northfield.example.edu\n@lib.northfield.example.edu")
    )

    app = SocialApp.objects.get()
    assert (app.provider, app.provider_id) == ("openid_connect", provider.provider_id)
    assert app.settings == {"server_url": "https://login.northfield.example.edu"}
    assert provider_for_email("Ana@LIB.northfield.example.edu") == provider
    assert provider_for_email("ana@example.edu") is None
    assert provider_for_email("ana@northfield.example.edu.evil.example") is None


def test_a_domain_belongs_to_one_library(libraries):
    office = factories.member(libraries[0].get_root(), "consortium_admin")
    do_save_provider(office, oidc(libraries[0]))

    with pytest.raises(ValidationError) as refused:
        check_save_provider(office, oidc(libraries[1]))
    assert "already belongs to Library 1" in str(refused.value)


def test_saml_needs_an_entity_id_and_metadata(libraries):
    office = factories.member(libraries[0].get_root(), "consortium_admin")
    provider = IdentityProvider(
        library=libraries[0], name="x", protocol="saml", email_domains="a.example.edu"
    )
    with pytest.raises(ValidationError) as refused:
        check_save_provider(office, provider)
    assert set(refused.value.message_dict) == {"entity_id", "metadata_url"}


@pytest.mark.parametrize(
    ("amr", "stated"),
    [
        (["pwd"], False),
        ([], False),
        (["mfa"], True),
        (["pwd", "otp"], True),
        (["hwk", "pin"], True),
    ],
)
def test_the_provider_states_mfa_only_with_amr(amr, stated):
    provider = IdentityProvider(protocol=IdentityProvider.Protocol.OIDC)
    assert provider_states_mfa(provider, {"id_token": {"amr": amr}}) is stated


def test_the_demo_provider_is_connected_to_a_library_and_run(libraries, monkeypatch, settings):
    import json
    from pathlib import Path

    from django.core.management import call_command

    from portal.sso.management.commands import demo_sign_in_provider

    settings.WAGTAILADMIN_BASE_URL = "http://127.0.0.1:8000"
    ran = {}

    def run(command, cwd, check):
        ran["config"] = json.loads(Path(command[-1]).read_text())
        ran["cwd"] = cwd

    monkeypatch.setattr(demo_sign_in_provider.subprocess, "run", run)
    library = libraries[0]

    call_command("demo_sign_in_provider", library=library.code, port=9010)

    provider = IdentityProvider.objects.get(library=library)
    assert provider.domains() == [f"{library.code}.example.edu"]
    assert provider.issuer == "http://127.0.0.1:9010"
    assert ran["config"]["domain"] == f"{library.code}.example.edu"
    path = f"/accounts/oidc/library-{library.code}/login/callback/"
    assert ran["config"]["clients"][0]["redirect_uris"] == [
        f"http://127.0.0.1:8000{path}",
        f"http://localhost:8000{path}",
    ]
