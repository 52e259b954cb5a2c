"""The audit chain's record of each way a person can sign in being set up or removed.

allauth announces these as signals: a passkey, an authenticator app or a set of recovery
codes added, removed or renewed (``allauth.mfa``), and a library's identity provider
linked to or unlinked from a person (``allauth.socialaccount``). Each becomes one entry,
with the person as both actor and subject: only they can change their own sign-in methods.
"""

from __future__ import annotations

from allauth.mfa import signals as mfa_signals
from allauth.socialaccount import signals as social_signals

from portal.audit.services import record_on_commit
from portal.sso.models import provider_of

from .middleware import FACTOR_REMOVED_SESSION_KEY


def _authenticator_data(authenticator) -> dict:
    data = {"method": authenticator.type}
    if authenticator.type == authenticator.Type.WEBAUTHN:
        data["name"] = authenticator.wrap().name
    return data


def _on_authenticator(action: str):
    def receiver(sender, request, user, authenticator, **kwargs):
        record_on_commit(action, actor=user, obj=user, data=_authenticator_data(authenticator))

    return receiver


def _on_social_account(action: str):
    def receiver(sender, request, **kwargs):
        # allauth sends the new link as a sign-in, the removed one as the account itself.
        socialaccount = kwargs.get("socialaccount") or kwargs["sociallogin"].account
        provider = provider_of(socialaccount)
        record_on_commit(
            action,
            actor=socialaccount.user,
            library=provider.library if provider else None,
            obj=socialaccount.user,
            data={
                "method": "single_sign_on",
                "provider": socialaccount.provider,
                "uid": socialaccount.uid,
            },
        )

    return receiver


def _forget_second_factor(sender, request, **kwargs):
    """The person removed a factor: the MFA check asks the database again."""
    if request is not None and hasattr(request, "session"):
        request.session[FACTOR_REMOVED_SESSION_KEY] = True


def connect() -> None:
    mfa_signals.authenticator_removed.connect(
        _forget_second_factor, dispatch_uid="forget_second_factor", weak=False
    )
    for signal, action in (
        (mfa_signals.authenticator_added, "account.sign_in_method.added"),
        (mfa_signals.authenticator_removed, "account.sign_in_method.removed"),
        (mfa_signals.authenticator_reset, "account.sign_in_method.renewed"),
    ):
        signal.connect(_on_authenticator(action), dispatch_uid=action, weak=False)
    for signal, action in (
        (social_signals.social_account_added, "account.sign_in_method.added"),
        (social_signals.social_account_removed, "account.sign_in_method.removed"),
    ):
        signal.connect(_on_social_account(action), dispatch_uid=f"social:{action}", weak=False)
