"""Connecting a library's identity provider, and the rules a provider's sign-in must meet.

Writes are check-then-do: ``check_*`` decides whether the person may and whether the
settings hold together; ``do_*`` writes, keeps allauth's ``SocialApp`` in step and records
the change in the audit chain.
"""

from __future__ import annotations

from allauth.socialaccount.models import SocialAccount, SocialApp
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record_on_commit

from .models import IdentityProvider, split_domains

MANAGE = "portal.manage_library"

# SAML AuthnContextClassRef values that state more than a password was used.
SAML_MFA_CONTEXTS = {
    "https://refeds.org/profile/mfa",
    "http://schemas.microsoft.com/claims/multipleauthn",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
}


def email_domain(email: str) -> str:
    return (email or "").rpartition("@")[2].strip().lower()


def provider_for_email(email: str) -> IdentityProvider | None:
    """The library provider that vouches for ``email``'s domain, if any."""
    domain = email_domain(email)
    if not domain:
        return None
    for provider in IdentityProvider.objects.select_related("library").filter(
        email_domains__icontains=domain
    ):
        if domain in provider.domains():
            return provider
    return None


def may_manage(user, library) -> bool:
    """The office, or a director (anyone who manages the library) for their own library."""
    return access.is_consortium_admin(user) or access.can(user, MANAGE, library)


def check_save_provider(actor, provider: IdentityProvider) -> None:
    if not may_manage(actor, provider.library):
        raise PermissionDenied(_("You may connect a provider only for your own library."))
    errors = {}
    domains = split_domains(provider.email_domains)
    if not domains:
        errors["email_domains"] = _("Name at least one email domain.")
    for domain in domains:
        if "." not in domain or " " in domain:
            errors["email_domains"] = _("“%(domain)s” is not a domain.") % {"domain": domain}
        owner = provider_for_email(f"x@{domain}")
        if owner is not None and owner.pk != provider.pk:
            errors["email_domains"] = _("%(domain)s already belongs to %(library)s.") % {
                "domain": domain,
                "library": owner.library.name,
            }
    if provider.protocol == IdentityProvider.Protocol.OIDC:
        for field in ("issuer", "client_id", "client_secret"):
            if not getattr(provider, field):
                errors[field] = _("OpenID Connect needs this.")
    else:
        if not provider.entity_id:
            errors["entity_id"] = _("SAML needs the provider's entity id.")
        if not provider.metadata_url and not provider.metadata_xml:
            errors["metadata_url"] = _("Give the metadata URL or paste the metadata XML.")
        elif provider.metadata_xml:
            try:
                _parse_metadata_xml(provider)
            except Exception as exc:  # noqa: BLE001 - any parse failure is the same to the office
                errors["metadata_xml"] = _("This metadata cannot be read: %(error)s") % {
                    "error": exc
                }
    if errors:
        raise ValidationError(errors)


def do_save_provider(actor, provider: IdentityProvider) -> IdentityProvider:
    created = provider.pk is None
    provider.email_domains = "\n".join(split_domains(provider.email_domains))
    with transaction.atomic():
        provider.social_app = _sync_social_app(provider)
        provider.save()
        record_on_commit(
            "sso.provider.connected" if created else "sso.provider.changed",
            actor=actor,
            library=provider.library,
            obj=provider,
            data={
                "protocol": provider.protocol,
                "domains": provider.domains(),
                "counts_as_second_factor": provider.counts_as_second_factor,
            },
        )
    return provider


def do_remove_provider(actor, provider: IdentityProvider) -> None:
    """Disconnect the provider; its people sign in with a password (or passkey) again."""
    with transaction.atomic():
        linked = SocialAccount.objects.filter(provider=provider.provider_id)
        record_on_commit(
            "sso.provider.removed",
            actor=actor,
            library=provider.library,
            obj=provider,
            data={"protocol": provider.protocol, "unlinked": linked.count()},
        )
        linked.delete()
        if provider.social_app_id:
            provider.social_app.delete()
        provider.delete()


def _sync_social_app(provider: IdentityProvider) -> SocialApp:
    app = provider.social_app or SocialApp()
    app.name = provider.name
    app.provider_id = provider.provider_id
    if provider.protocol == IdentityProvider.Protocol.OIDC:
        app.provider = "openid_connect"
        app.client_id = provider.client_id
        app.secret = provider.client_secret
        app.settings = {"server_url": provider.issuer}
    else:
        app.provider = "saml"
        # allauth's SAML URLs name the app by its client id ("organization slug").
        app.client_id = provider.provider_id
        app.secret = ""
        idp = {"entity_id": provider.entity_id}
        if provider.metadata_xml:
            idp.update(_parse_metadata_xml(provider))
        else:
            idp["metadata_url"] = provider.metadata_url
        app.settings = {
            "idp": idp,
            "attribute_mapping": {
                "uid": "uid",
                "email": "email",
                "email_verified": "email_verified",
                "name": "name",
            },
            "advanced": {
                "want_assertion_signed": True,
                "reject_idp_initiated_sso": True,
            },
        }
    app.save()
    return app


def _parse_metadata_xml(provider: IdentityProvider) -> dict:
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    idp = OneLogin_Saml2_IdPMetadataParser.parse(
        provider.metadata_xml, entity_id=provider.entity_id
    ).get("idp")
    if not idp or not idp.get("singleSignOnService"):
        raise ValueError(_("no IdP with this entity id and a sign-in URL"))
    return {
        "x509cert": idp.get("x509cert", ""),
        "sso_url": idp["singleSignOnService"]["url"],
        "slo_url": idp.get("singleLogoutService", {}).get("url", ""),
    }


def provider_states_mfa(provider: IdentityProvider, extra_data: dict) -> bool:
    """Whether the provider says this sign-in used more than a password.

    OpenID Connect: the ID token's ``amr`` (RFC 8176) names ``mfa``, or two or more methods.
    SAML: an AuthnContextClassRef from :data:`SAML_MFA_CONTEXTS`.
    """
    if provider.protocol == IdentityProvider.Protocol.OIDC:
        amr = (extra_data.get("id_token") or {}).get("amr") or []
        return "mfa" in amr or len(set(amr)) >= 2
    contexts = extra_data.get("authn_contexts") or []
    return bool(SAML_MFA_CONTEXTS & set(contexts))


def sign_in_url(provider: IdentityProvider, next_url: str | None = None) -> str:
    """allauth's start of a sign-in through ``provider``."""
    from django.urls import reverse
    from django.utils.http import urlencode

    if provider.protocol == IdentityProvider.Protocol.OIDC:
        url = reverse("openid_connect_login", kwargs={"provider_id": provider.provider_id})
    else:
        url = reverse("saml_login", kwargs={"organization_slug": provider.provider_id})
    query = {"process": "login"}
    if next_url:
        query["next"] = next_url
    return f"{url}?{urlencode(query)}"
