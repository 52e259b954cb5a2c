"""Concord's own second factor, unless the library's provider already gave one."""

from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.stages import AuthenticateStage

from .adapter import SECOND_FACTOR_SESSION_KEY


def second_factor_by_provider(request, user) -> bool:
    """True when this session's sign-in came through a provider whose word counts as the
    second factor and which said it used one."""
    provider_id = request.session.get(SECOND_FACTOR_SESSION_KEY)
    if not provider_id:
        return False
    records = get_authentication_records(request, user) if user is not None else []
    last = records[-1] if records else {}
    return last.get("method") == "socialaccount" and last.get("provider") == provider_id


class SecondFactorStage(AuthenticateStage):
    def _should_handle(self, request) -> bool:
        if second_factor_by_provider(request, self.login.user):
            return False
        return super()._should_handle(request)
