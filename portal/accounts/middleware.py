"""Directors and consortium administrators must set up MFA before using the portal."""

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from portal import access

# Paths a person without MFA may still reach: setting MFA up, logging out, static files.
ALLOWED_PREFIXES = ("/accounts/", "/static/", "/media/", "/healthz")


class RequireMFAMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(ALLOWED_PREFIXES)
            and access.roles_of(user) & set(settings.CONCORD_MFA_REQUIRED_ROLES)
            and not is_mfa_enabled(user)
        ):
            return redirect(reverse("mfa_activate_totp") + f"?next={request.path}")
        return self.get_response(request)
