"""Directors and consortium administrators must set up MFA before using the portal."""

from allauth.account.authentication import get_authentication_records
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _

from portal import access
from portal.members import standing
from portal.sso.stages import second_factor_by_provider

# Paths a person without MFA may still reach: setting MFA up, logging out, static files.
ALLOWED_PREFIXES = ("/accounts/", "/static/", "/media/", "/healthz", "/readyz")

# Where the person was going when they were sent to set up MFA. allauth's activation view
# ignores `next` (it always goes on to the new recovery codes), so the recovery codes page
# reads this to offer a way back.
NEXT_SESSION_KEY = "concord_mfa_next"


class RequireMFAMiddleware:
    """Sends people whose role requires MFA to TOTP activation until they have it.

    It also sends the Wagtail admin's own sign-in form to allauth's: Wagtail's form logs a
    person in with a password alone and would skip the second factor.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if request.path == _wagtail_login_path():
            if user is not None and user.is_authenticated:
                # Signed in but without admin access: sending them to sign in again would
                # loop (allauth returns a signed-in person to `next`, i.e. the admin).
                messages.info(
                    request,
                    _("The administration area is for the consortium office."),
                    fail_silently=True,
                )
                return redirect("dashboard")
            return redirect(_login_url(request))
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(ALLOWED_PREFIXES)
            and mfa_required(user)
            and not has_second_factor(request, user)
            and not second_factor_by_provider(request, user)
        ):
            # Only a page the person navigated to; not the favicon or a script's fetch.
            if request.method == "GET" and _is_navigation(request):
                request.session[NEXT_SESSION_KEY] = request.get_full_path()
                messages.info(
                    request,
                    _(
                        "Your role requires two-factor authentication. Set up an "
                        "authenticator app to continue."
                    ),
                    fail_silently=True,
                )
            return redirect("mfa_activate_totp")
        return self.get_response(request)


# Set when the person removes a factor during the session: from then on the database is
# asked, not the record of how they signed in (portal/accounts/sign_in_methods.py).
FACTOR_REMOVED_SESSION_KEY = "concord_second_factor_removed"


def has_second_factor(request, user) -> bool:
    """A person who signed in with a second factor has one: allauth recorded it in the
    session, so their pages skip the query. Otherwise (or after they removed a factor),
    the database answers."""
    if not request.session.get(FACTOR_REMOVED_SESSION_KEY) and any(
        record.get("method") == "mfa" for record in get_authentication_records(request, user)
    ):
        return True
    return standing.kept(user, "second_factor", lambda: is_mfa_enabled(user))


def mfa_required(user) -> bool:
    """True when one of the user's roles obliges them to use a second factor."""
    return access.requires_mfa(user)


def _is_navigation(request) -> bool:
    return request.headers.get("Sec-Fetch-Dest", "document") == "document"


def _wagtail_login_path() -> str | None:
    try:
        return reverse("wagtailadmin_login")
    except NoReverseMatch:
        return None


def _login_url(request) -> str:
    url = reverse("account_login")
    target = request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        url += "?" + urlencode({"next": target})
    return url
