"""Writing to and checking the audit chain."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .models import GENESIS, AuditEntry

# Any constant works; it names the lock that serialises appends on PostgreSQL.
_CHAIN_LOCK = 0x434F4E43


def _normalise(data: dict) -> dict:
    # Store exactly what the hash covered: JSON round-trip (dates become strings, etc.).
    return json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder))


def record(action: str, *, actor=None, library=None, obj=None, data=None) -> AuditEntry:
    """Append one entry to the chain, inside the caller's transaction."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        last = AuditEntry.objects.order_by("-pk").values_list("hash", flat=True).first()
        entry = AuditEntry(
            created_at=timezone.now(),
            actor=actor if getattr(actor, "pk", None) else None,
            actor_label=(getattr(actor, "email", "") or str(actor or ""))[:254],
            action=action,
            library=library,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            data=_normalise(data),
            prev_hash=last or GENESIS,
        )
        entry.hash = entry.compute_hash()
        entry.save()
    return entry


def record_on_commit(action: str, **kwargs) -> None:
    """Append after the surrounding transaction commits (nothing is logged on rollback)."""
    transaction.on_commit(lambda: record(action, **kwargs))


@dataclass
class ChainReport:
    checked: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the chain in order; report the first entry whose link does not hold."""
    previous = GENESIS
    checked = 0
    for entry in AuditEntry.objects.order_by("pk").iterator(chunk_size=batch_size):
        if entry.prev_hash != previous:
            return ChainReport(checked, entry.pk, "its link to the previous entry is broken")
        if entry.compute_hash() != entry.hash:
            return ChainReport(checked, entry.pk, "its content does not match its hash")
        previous = entry.hash
        checked += 1
    return ChainReport(checked)
