"""Issuing and revoking API tokens (check, then do; both audited)."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record_on_commit
from portal.plugins import available_plugins

from .models import ApiToken

TOKEN_PREFIX = "cnc"  # noqa: S105 - the public part that names the kind of token
# How often last_used_at is written: not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_issue_token(user, library, scopes) -> list[str]:
    """Only the consortium office issues tokens; scopes must be known ones."""
    if not access.is_consortium_admin(user):
        raise PermissionDenied
    unknown = set(scopes) - set(known_scopes())
    if unknown or not scopes:
        raise ValidationError(_("Choose one or more of the listed scopes."))
    return sorted(set(scopes))


@transaction.atomic
def do_issue_token(user, library, name, scopes, expires_at=None) -> tuple[ApiToken, str]:
    """Returns the token row and the plaintext, which is never stored or shown again."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        library=library,
        name=name,
        prefix=prefix,
        digest=digest(secret),
        scopes=scopes,
        created_by=user,
        expires_at=expires_at,
    )
    record_on_commit(
        "api_token.issued",
        actor=user,
        library=library,
        obj=token,
        data={"name": name, "prefix": prefix, "scopes": scopes},
    )
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


def check_revoke_token(user, token: ApiToken) -> ApiToken:
    if not access.is_consortium_admin(user):
        raise PermissionDenied
    return ApiToken.objects.select_for_update().get(pk=token.pk)


@transaction.atomic
def do_revoke_token(user, token: ApiToken) -> ApiToken:
    token = check_revoke_token(user, token)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_on_commit(
            "api_token.revoked", actor=user, library=token.library, obj=token,
            data={"prefix": token.prefix},
        )  # fmt: skip
    return token


def authenticate(presented: str) -> ApiToken | None:
    """The token for a presented ``cnc_<prefix>_<secret>``, when valid and usable."""
    try:
        kind, prefix, secret = presented.split("_", 2)
    except ValueError:
        return None
    if kind != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.select_related("library").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.digest, digest(secret)):
        return None
    now = timezone.now()
    if not token.is_usable(now):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def known_scopes() -> dict[str, str]:
    """Every scope a token may carry: the core's and those the available plugins declare."""
    scopes = dict(ApiToken.Scope.choices)
    for plugin in available_plugins():
        scopes.update(plugin.meta.api_scopes)
    return scopes
