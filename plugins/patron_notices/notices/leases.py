"""Delivery rows claimed by a worker under a lease, their outcomes recorded, and rows of
dead workers taken back."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ..conf import conf
from ..directory.models import Contact, Patron
from ..outages import patiently
from .models import Delivery, Notice

logger = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_margin(lease: float) -> float:
    """How long before a lease runs out a batch stops waiting for the database: its rows
    must still be its own when it records them."""
    return min(lease * 0.1, 10.0)


@dataclass
class Row:
    id: int
    library_id: int
    language: str
    attempts: int
    email: str
    first_name: str


_CLAIM_PG = """
WITH live AS (
    SELECT id FROM {notice} WHERE id = %(notice)s AND state = 'sending' FOR SHARE
), claimed AS (
    UPDATE {delivery} d
       SET state = 'sending', worker = %(worker)s, attempts = d.attempts + 1,
           lease_until = clock_timestamp() + make_interval(secs => %(lease)s)
     WHERE d.id = ANY(ARRAY(
        SELECT id FROM {delivery}
         WHERE notice_id = (SELECT id FROM live) AND state = 'queued'
           AND (due_at IS NULL OR due_at <= clock_timestamp())
         ORDER BY id
         LIMIT %(limit)s
         FOR UPDATE SKIP LOCKED))
    RETURNING d.id, d.contact_id, d.patron_id, d.library_id, d.language, d.attempts
)
SELECT c.id, c.library_id, c.language, c.attempts, ct.email, coalesce(p.first_name, '')
  FROM claimed c
  JOIN {contact} ct ON ct.id = c.contact_id
  LEFT JOIN {patron} p ON p.id = c.patron_id
 ORDER BY c.id
"""


def claim(notice_id: int, worker: str, limit: int, lease: float) -> list[Row]:
    """Take up to ``limit`` due rows of the notice for this worker, atomically.

    ``= ANY(ARRAY(subquery))`` makes the row choice run once, before the update, whatever
    the planner believes: with ``IN (subquery)`` and statistics taken before a million rows
    were planned, it chose a semi-join that ran the subquery per row, for minutes.

    Nothing is claimed unless the notice is sending, read under a share lock: a pause or
    cancel (which locks the notice to change it) either waits for this claim to commit or
    has committed before it, so no batch starts sending after a pause took effect."""
    if connection.vendor == "postgresql":
        sql = _CLAIM_PG.format(
            notice=Notice._meta.db_table,
            delivery=Delivery._meta.db_table,
            contact=Contact._meta.db_table,
            patron=Patron._meta.db_table,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                sql, {"worker": worker, "lease": lease, "notice": notice_id, "limit": limit}
            )
            return [Row(*r) for r in cursor.fetchall()]
    # Elsewhere (SQLite in development) there is one writer at a time: lock by transaction.
    now = timezone.now()
    with transaction.atomic():
        if not Notice.objects.filter(pk=notice_id, state=Notice.State.SENDING).exists():
            return []
        ids = list(
            Delivery.objects.filter(notice_id=notice_id, state=Delivery.State.QUEUED)
            .exclude(due_at__gt=now)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        Delivery.objects.filter(id__in=ids, state=Delivery.State.QUEUED).update(
            state=Delivery.State.SENDING,
            worker=worker,
            lease_until=now + timedelta(seconds=lease),
            attempts=F("attempts") + 1,
        )
        rows = Delivery.objects.filter(id__in=ids, worker=worker).select_related(
            "contact", "patron"
        )
        return [
            Row(
                d.id,
                d.library_id,
                d.language,
                d.attempts,
                d.contact.email,
                d.patron.first_name if d.patron else "",
            )
            for d in rows.order_by("id")
        ]


def claim_patiently(notice_id: int, worker: str, limit: int, lease: float) -> list[Row]:
    """:func:`claim`, repeated while the database does not answer.

    A claim whose connection broke may have committed without its answer reaching this
    worker: before claiming again, rows this worker holds for the notice are given back,
    or they would wait for their lease to run out. One batch runs at a time per worker
    name (the process id is part of it), so none of them is another batch's."""
    attempts = 0

    def take() -> list[Row]:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            held = Delivery.objects.filter(
                notice_id=notice_id, worker=worker, state=Delivery.State.SENDING
            )
            release(worker, list(held.values_list("id", flat=True)), cancelled=False)
        return claim(notice_id, worker, limit, lease)

    return patiently(time.monotonic() + lease - lease_margin(lease), take)


@dataclass
class Outcome:
    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    retry: list[tuple[int, str, int]] = field(default_factory=list)  # id, error, attempts


def backoff(attempts: int) -> float:
    base = conf().retry_base_seconds
    return min(base * (2 ** max(attempts - 1, 0)), conf().retry_max_seconds)


def flush(outcome: Outcome, worker: str, unsent: list[int], lease: float) -> None:
    """Record what happened since the last flush; renew the lease on the rest."""
    now = timezone.now()
    mine = Delivery.objects.filter(worker=worker, state=Delivery.State.SENDING)
    with transaction.atomic():
        if outcome.sent:
            mine.filter(id__in=outcome.sent).update(
                state=Delivery.State.SENT, sent_at=now, lease_until=None, last_error=""
            )
        for delivery_id, error in outcome.failed:
            mine.filter(id=delivery_id).update(
                state=Delivery.State.FAILED, last_error=error, lease_until=None
            )
        max_attempts = conf().max_attempts
        for delivery_id, error, attempts in outcome.retry:
            if attempts >= max_attempts:
                mine.filter(id=delivery_id).update(
                    state=Delivery.State.FAILED, last_error=error, lease_until=None
                )
            else:
                mine.filter(id=delivery_id).update(
                    state=Delivery.State.QUEUED,
                    last_error=error,
                    lease_until=None,
                    worker="",
                    due_at=now + timedelta(seconds=backoff(attempts)),
                )
        if unsent:
            mine.filter(id__in=unsent).update(lease_until=now + timedelta(seconds=lease))
    outcome.sent.clear()
    outcome.failed.clear()
    outcome.retry.clear()


def release(worker: str, ids: list[int], cancelled: bool, wait: float | None = None) -> None:
    """Give back rows this worker claimed but did not send (pause, cancel, rate limit);
    ``wait``: not to be claimed again for that many seconds (set in the same update, so no
    other worker takes them in between)."""
    mine = Delivery.objects.filter(worker=worker, state=Delivery.State.SENDING, id__in=ids)
    if cancelled:
        mine.update(state=Delivery.State.SKIPPED, lease_until=None, last_error="cancelled")
    else:
        due_at = timezone.now() + timedelta(seconds=wait) if wait else None
        mine.update(
            state=Delivery.State.QUEUED,
            lease_until=None,
            worker="",
            attempts=F("attempts") - 1,
            due_at=due_at,
        )


def notice_state(notice_id: int) -> str:
    return Notice.objects.filter(pk=notice_id).values_list("state", flat=True).first() or ""


def next_due(notice_id: int) -> float | None:
    """Seconds until the first queued row of a sending notice is due (0: one is due now);
    None when none is queued, or the notice is not sending."""
    from django.db.models import Min

    queued = Delivery.objects.filter(
        notice_id=notice_id, notice__state=Notice.State.SENDING, state=Delivery.State.QUEUED
    )
    if queued.filter(due_at__isnull=True).exists():
        return 0.0
    due = queued.aggregate(due=Min("due_at"))["due"]
    if due is None:
        return None
    return max((due - timezone.now()).total_seconds(), 0.0)


def finish_if_done(notice_id: int) -> bool:
    """Mark a sending notice done once no row is queued or in flight."""
    busy = Delivery.objects.filter(
        notice_id=notice_id, state__in=[Delivery.State.QUEUED, Delivery.State.SENDING]
    )
    if busy.exists():
        return False
    return bool(
        Notice.objects.filter(pk=notice_id, state=Notice.State.SENDING).update(
            state=Notice.State.DONE, finished_at=timezone.now()
        )
    )


def reap(now=None, notice_id: int | None = None) -> int:
    """Re-queue rows whose worker's lease ran out (the worker died, or waited longer than
    its lease for the database); of one notice, or of all. Idempotent."""
    now = now or timezone.now()
    rows = Delivery.objects.filter(state=Delivery.State.SENDING, lease_until__lt=now)
    if notice_id is not None:
        rows = rows.filter(notice_id=notice_id)
    return rows.update(
        state=Delivery.State.QUEUED, worker="", lease_until=None, attempts=F("attempts") - 1
    )
