"""Lets allauth's "continue to your library's sign-in" form leave for the provider.

The portal's Content-Security-Policy allows forms to post only to the portal itself
(``form-action 'self'``), and Chromium applies that to where the post is redirected too. The
page that starts a provider sign-in posts to allauth, which redirects to the provider: on
that page alone, the provider's own origin is added.
"""

from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _

from .models import IdentityProvider

START_VIEWS = {"openid_connect_login": "provider_id", "saml_login": "organization_slug"}
# Where a provider's answer arrives. allauth refuses one that answers no sign-in started in
# this browser (a replayed SAML assertion, a forged callback) with a bare 403.
ANSWER_VIEWS = {"saml_finish_acs", "openid_connect_callback"}


class ProviderFormActionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is None or match.url_name not in START_VIEWS:
            return response
        provider_id = match.kwargs.get(START_VIEWS[match.url_name], "")
        origin = provider_origin(provider_id)
        if origin:
            response._csp_update = {"form-action": [origin]}
        return response

    def process_exception(self, request, exception):
        match = getattr(request, "resolver_match", None)
        if not isinstance(exception, PermissionDenied) or match is None:
            return None
        if match.url_name not in ANSWER_VIEWS:
            return None
        message = _(
            "This answer from your library's sign-in does not belong to a sign-in started "
            "here: it was already used, or it was sent from elsewhere. Start again from the "
            "sign-in page."
        )
        return render(request, "socialaccount/refused.html", {"message": message}, status=403)


def provider_origin(provider_id: str) -> str | None:
    provider = IdentityProvider.objects.filter(social_app__provider_id=provider_id).first()
    if provider is None:
        return None
    if provider.protocol == IdentityProvider.Protocol.OIDC:
        url = provider.issuer
    else:
        idp = (provider.social_app.settings or {}).get("idp", {})
        url = idp.get("sso_url") or provider.metadata_url
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
