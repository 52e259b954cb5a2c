"""Writing to and checking the audit chain."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from . import anchor, chain
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
        last = AuditEntry.objects.order_by("-pk").values_list("pk", "hash").first()
        entry = AuditEntry(
            # The id is hashed too, so it is chosen here, under the chain's lock.
            id=(last[0] + 1) if last else 1,
            created_at=timezone.now(),
            actor=actor if getattr(actor, "pk", None) else None,
            actor_label=(getattr(actor, "email", "") or str(actor or ""))[:254],
            action=action,
            library=library,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            data=_normalise(data),
            version=chain.KEYED,
            prev_hash=last[1] if last else GENESIS,
        )
        entry.hash = entry.compute_hash()
        entry.save()
    return entry


def record_on_commit(action: str, **kwargs) -> None:
    """Append after the surrounding transaction commits (nothing is logged on rollback)."""
    transaction.on_commit(lambda: record(action, **kwargs))


# What verify_chain reports, one kind per tampering.
EDITED = "edited"  # an entry's stored fields no longer match its keyed hash
DELETED = "deleted"  # an entry is missing inside the chain: the next one's link is broken
TRUNCATED = "truncated"  # entries a checkpoint saw are gone from the end of the chain
RECHAINED = "rechained"  # the chain was rewritten (hashes recomputed) after a checkpoint
FORGED = "forged checkpoint"  # a checkpoint line whose tag does not match the key


@dataclass
class Problem:
    kind: str
    entry: int | None
    text: str

    def __str__(self) -> str:
        where = f"entry #{self.entry}" if self.entry is not None else "the chain"
        return f"{self.kind}: {where}: {self.text}"


@dataclass
class ChainReport:
    checked: int  # entries intact before the first problem (all of them when intact)
    broken_at: int | None = None
    reason: str = ""
    problems: list[Problem] = field(default_factory=list)
    entries: int = 0
    legacy: int = 0  # entries from before the key (version 1)
    checkpoints: int = 0
    newest_checkpoint: anchor.Checkpoint | None = None

    @property
    def intact(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def add(self, problem: Problem, at: int | None = None) -> None:
        if not self.problems:
            self.broken_at = problem.entry if at is None else at
            self.reason = problem.text
        self.problems.append(problem)


MAX_PROBLEMS = 100


def verify_chain(
    batch_size: int = 5000, checkpoints: list[anchor.Checkpoint] | None = None
) -> ChainReport:
    """Walk the whole chain in order and compare it with the checkpoints (by default those
    of ``AUDIT_CHECKPOINT_FILE``); report every problem found, by kind."""
    report = ChainReport(checked=0)
    previous, previous_id, keyed_seen = GENESIS, 0, False
    hashes: dict[int, str] = {}
    points = anchor.read() if checkpoints is None else checkpoints
    wanted = {p.id for p in points}
    for entry in AuditEntry.objects.order_by("pk").iterator(chunk_size=batch_size):
        report.entries += 1
        if entry.version == chain.LEGACY:
            report.legacy += 1
        if entry.pk in wanted:
            hashes[entry.pk] = entry.hash
        problems = []
        if entry.version == chain.LEGACY and keyed_seen:
            problems.append(Problem(EDITED, entry.pk, "an unkeyed entry after keyed ones"))
        elif entry.version not in (chain.LEGACY, chain.KEYED):
            problems.append(Problem(EDITED, entry.pk, "its version is unknown"))
        elif entry.compute_hash() != entry.hash:
            problems.append(Problem(EDITED, entry.pk, "its content does not match its hash"))
        if entry.prev_hash != previous:
            gap = f" (entries #{previous_id + 1}-#{entry.pk - 1} are missing)"
            problems.append(
                Problem(
                    DELETED,
                    entry.pk,
                    "its link to the previous entry is broken"
                    + (gap if entry.pk > previous_id + 1 else ""),
                )
            )
        for problem in problems:
            if len(report.problems) < MAX_PROBLEMS:
                report.add(problem)
        if not report.problems:
            report.checked += 1
        keyed_seen = keyed_seen or entry.version == chain.KEYED
        previous, previous_id = entry.hash, entry.pk
    _compare_with_checkpoints(report, points, hashes, previous_id)
    return report


def _compare_with_checkpoints(report, points, hashes, last_id) -> None:
    report.checkpoints = len(points)
    for point in points:
        if point.source != "given" and not point.genuine:
            report.add(Problem(FORGED, None, f"{point.source} does not carry the key's tag"))
            continue
        report.newest_checkpoint = point
        seen = f"the checkpoint of {point.at} ({point.source})"
        if point.id not in hashes:
            if point.id > last_id:
                text = f"{seen} names entry #{point.id}, but the chain ends at #{last_id}"
                report.add(Problem(TRUNCATED, point.id, text + ": its newest entries were deleted"))
            else:
                report.add(Problem(DELETED, point.id, f"{seen} names it, and it is gone"))
            continue
        if hashes[point.id] != point.hash:
            text = f"its hash differs from {seen}: the chain was rewritten"
            report.add(Problem(RECHAINED, point.id, text))
            continue
        if point.count >= 0:
            count = AuditEntry.objects.filter(pk__lte=point.id).count()
            if count != point.count:
                report.add(
                    Problem(
                        DELETED,
                        point.id,
                        f"{seen} counted {point.count} entries up to it, the chain has {count}",
                    )
                )
