import time
from datetime import UTC, datetime

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context
from allauth.mfa.models import Authenticator

from portal.context_processors import consortium_name


class InvitationOnlyAdapter(DefaultAccountAdapter):
    """People join by invitation from the office or their director, never by signing up."""

    def is_open_for_signup(self, request):
        return False

    def format_email_subject(self, subject: str) -> str:
        # The consortium's own name on its mail, not the software's.
        return f"[{consortium_name()}] {subject}"

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """A password sign-in moments ago lets a person set up their first second factor.

        allauth asks for the password again before any MFA change and before showing recovery
        codes, even seconds after signing in. Directors and admins are sent to MFA set-up
        straight from sign-in, so they would type it twice. A password sign-in within the
        re-authentication window proves the same thing; it counts only while every
        authenticator the person has was added after that sign-in (the set-up itself).
        """
        if app == "allauth.mfa" and _setting_up_mfa_right_after_password_sign_in():
            return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def get_login_stages(self) -> list[str]:
        """allauth's, with its second-factor stage replaced by one that takes a library
        provider's word for it when the office allows (portal.sso.stages)."""
        return [
            "portal.sso.stages.SecondFactorStage"
            if path == "allauth.mfa.stages.AuthenticateStage"
            else path
            for path in super().get_login_stages()
        ]


def _setting_up_mfa_right_after_password_sign_in() -> bool:
    request = context.request
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return False
    # allauth's own record of how this session was authenticated, newest last.
    records = get_authentication_records(request, user)
    if not records or records[-1].get("method") != "password":
        return False
    signed_in_at = records[-1]["at"]
    if time.time() - signed_in_at >= account_settings.REAUTHENTICATION_TIMEOUT:
        return False
    return not Authenticator.objects.filter(
        user=user, created_at__lt=datetime.fromtimestamp(signed_in_at, tz=UTC)
    ).exists()
