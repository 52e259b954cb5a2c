"""allauth's social sign-in, held to the consortium's rules.

A library's provider signs in only people it vouches for (an address in its domains that it
says is verified) who were already invited: a first sign-in links the provider to that
account and never creates a person or gives a role.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.utils.translation import gettext as _

from .models import IdentityProvider
from .services import email_domain, provider_for_email, provider_states_mfa

# Set at each provider sign-in: the provider that stated this sign-in used two factors,
# when the office lets that provider's word count (see portal.sso.stages).
SECOND_FACTOR_SESSION_KEY = "concord_second_factor_by"


class LibrarySignInAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return False

    def pre_social_login(self, request, sociallogin) -> None:
        provider = (
            IdentityProvider.objects.select_related("library")
            .filter(social_app__provider_id=sociallogin.account.provider)
            .first()
        )
        if provider is None:
            refuse(request, _("This sign-in is no longer connected to a member library."))
        email, verified = _vouched_address(sociallogin)
        if not email:
            refuse(request, _("%(provider)s did not give your email address.") % _names(provider))
        if email_domain(email) not in provider.domains():
            owner = provider_for_email(email)
            if owner is not None:
                refuse(
                    request,
                    _(
                        "%(email)s belongs to %(owner)s. Sign in with that address through "
                        "%(owner)s's own sign-in, not %(library)s's."
                    )
                    % {"email": email, "owner": owner.library.name, **_names(provider)},
                )
            refuse(
                request,
                _("%(library)s's sign-in does not vouch for %(email)s.")
                % {"email": email, **_names(provider)},
            )
        if not verified:
            refuse(
                request,
                _(
                    "%(provider)s did not confirm that %(email)s is yours, so it cannot sign "
                    "you in here. Ask %(library)s's IT staff to verify the address."
                )
                % {"email": email, **_names(provider)},
            )
        signed_in = getattr(request, "user", None)
        if (
            sociallogin.state.get("process") == "connect"
            and signed_in is not None
            and signed_in.is_authenticated
            and signed_in.email.lower() != email
        ):
            refuse(
                request,
                _("%(email)s is not your address here, so it cannot be linked to you.")
                % {"email": email},
            )
        if not sociallogin.is_existing:
            user = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
            if user is None:
                refuse(
                    request,
                    _(
                        "Nobody has been invited with %(email)s yet. Ask your library's "
                        "director or the consortium office to invite you; then sign in here."
                    )
                    % {"email": email},
                )
            sociallogin.connect(request, user)
        user = sociallogin.user
        # The provider proved the address: the invitation's own confirmation is not needed.
        address, _created = EmailAddress.objects.get_or_create(
            user=user,
            email__iexact=email,
            defaults={"email": email, "verified": True, "primary": True},
        )
        if not address.verified:
            address.verified = True
            address.save(update_fields=["verified"])
        vouched = provider.counts_as_second_factor and provider_states_mfa(
            provider, sociallogin.account.extra_data
        )
        request.session[SECOND_FACTOR_SESSION_KEY] = provider.provider_id if vouched else None


def refuse(request, message: str):
    raise ImmediateHttpResponse(
        render(request, "socialaccount/refused.html", {"message": message}, status=403)
    )


def _names(provider: IdentityProvider) -> dict:
    return {"provider": provider.name, "library": provider.library.name}


def _vouched_address(sociallogin) -> tuple[str, bool]:
    for address in sociallogin.email_addresses:
        if address.primary or len(sociallogin.email_addresses) == 1:
            return address.email.strip().lower(), bool(address.verified)
    return (sociallogin.user.email or "").strip().lower(), False
