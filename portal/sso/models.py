"""A member library's identity provider: who may vouch for its people's sign-in.

The protocol itself is allauth's (``allauth.socialaccount``'s ``saml`` and
``openid_connect`` providers). Each provider here keeps one allauth ``SocialApp`` in step
(:func:`portal.sso.services.do_save_provider`); the office edits only this model.
"""

from __future__ import annotations

from allauth.socialaccount.models import SocialApp
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.members.models import MemberLibrary


class IdentityProvider(models.Model):
    class Protocol(models.TextChoices):
        SAML = "saml", _("SAML 2.0")
        OIDC = "openid_connect", _("OpenID Connect")

    library = models.OneToOneField(
        MemberLibrary,
        on_delete=models.CASCADE,
        related_name="identity_provider",
        verbose_name=_("library"),
    )
    name = models.CharField(
        _("name"),
        max_length=100,
        help_text=_("Shown on the sign-in page, e.g. “Northfield University sign-in”."),
    )
    protocol = models.CharField(_("protocol"), max_length=20, choices=Protocol.choices)
    email_domains = models.TextField(
        _("email domains"),
        help_text=_(
            "One per line, e.g. northfield.edu. People whose address ends in one of these "
            "sign in through this provider; no other library may claim the same domain."
        ),
    )
    counts_as_second_factor = models.BooleanField(
        _("counts as the second factor"),
        default=False,
        help_text=_(
            "Directors and the office need two factors. When ticked, a sign-in for which "
            "the provider states it used more than a password (OpenID Connect “amr”, "
            "SAML AuthnContextClassRef) is enough; otherwise Concord asks for its own."
        ),
    )
    # OpenID Connect
    issuer = models.URLField(
        _("issuer"), blank=True, help_text=_("The provider's issuer (server) URL.")
    )
    client_id = models.CharField(_("client id"), max_length=200, blank=True)
    client_secret = models.CharField(_("client secret"), max_length=400, blank=True)
    # SAML 2.0
    entity_id = models.CharField(_("IdP entity id"), max_length=400, blank=True)
    metadata_url = models.URLField(_("metadata URL"), blank=True)
    metadata_xml = models.TextField(
        _("metadata XML"), blank=True, help_text=_("When the provider publishes no URL.")
    )

    social_app = models.OneToOneField(
        SocialApp, on_delete=models.SET_NULL, null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("identity provider")
        verbose_name_plural = _("identity providers")
        ordering = ["library__name"]

    def __str__(self):
        return self.name

    @property
    def provider_id(self) -> str:
        """allauth's name for this provider: in URLs and on each linked account."""
        return f"library-{self.library.code}"

    def domains(self) -> list[str]:
        return split_domains(self.email_domains)


def split_domains(text: str) -> list[str]:
    return sorted(
        {d.strip().lower().lstrip("@") for d in (text or "").replace(",", "\n").splitlines()} - {""}
    )


def provider_of(socialaccount) -> IdentityProvider | None:
    """The library provider a linked account came through (None for one removed since)."""
    return (
        IdentityProvider.objects.select_related("library")
        .filter(social_app__provider_id=socialaccount.provider)
        .first()
    )
