"""How an audit entry is sealed: pure functions, shared by the model and the migrations.

Version 2 (keyed): HMAC-SHA256, under a key the database does not hold
(``AUDIT_CHAIN_KEY``, else one derived from ``SECRET_KEY``), over the previous entry's
hash and every stored field of the entry: its id, time, actor id and label, action,
library, object, data and version. Whoever can write to the database but does not have
the key can neither change an entry nor re-chain the entries after it.

Version 1 (legacy, before the key): plain SHA-256 over the previous hash and the content
without the ids of the entry and its actor. Still checked as such, and only before the
first keyed entry, which links to the last of them.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from django.core.serializers.json import DjangoJSONEncoder

GENESIS = "0" * 64
LEGACY, KEYED = 1, 2


def key() -> bytes:
    from django.conf import settings

    configured = getattr(settings, "AUDIT_CHAIN_KEY", "") or ""
    if configured:
        return configured.encode()
    # Derived, so a deployment that sets nothing still has a key outside the database;
    # set AUDIT_CHAIN_KEY so that rotating SECRET_KEY does not change it.
    return hmac.new(
        settings.SECRET_KEY.encode(), b"concord.audit.chain-key", hashlib.sha256
    ).digest()


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def stored_fields(
    *,
    id,
    created_at,
    actor_id,
    actor_label,
    action,
    library_id,
    object_type,
    object_id,
    data,
    version,
) -> dict:
    """Every stored field but the hashes, as the keyed hash covers them."""
    return {
        "id": id,
        "created_at": created_at.isoformat(),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "library_id": library_id,
        "object_type": object_type,
        "object_id": object_id,
        "data": data,
        "version": version,
    }


def keyed_hash(prev_hash: str, fields: dict, secret: bytes | None = None) -> str:
    message = (prev_hash + "\n" + _json(fields)).encode()
    return hmac.new(secret or key(), message, hashlib.sha256).hexdigest()


def legacy_hash(prev_hash: str, fields: dict) -> str:
    """Version 1's hash: what entries written before the key carry."""
    content = {
        "created_at": fields["created_at"],
        "actor": fields["actor_label"],
        "action": fields["action"],
        "library": fields["library_id"],
        "object_type": fields["object_type"],
        "object_id": fields["object_id"],
        "data": fields["data"],
    }
    return hashlib.sha256((prev_hash + _json(content)).encode()).hexdigest()


def seal(prev_hash: str, fields: dict) -> str:
    if fields["version"] == LEGACY:
        return legacy_hash(prev_hash, fields)
    return keyed_hash(prev_hash, fields)


def mac(text: str) -> str:
    """A keyed tag for a checkpoint line, so one cannot be forged without the key."""
    return hmac.new(key(), text.encode(), hashlib.sha256).hexdigest()
