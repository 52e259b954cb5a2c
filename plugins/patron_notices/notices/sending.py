"""The sending engine: claim a batch of delivery rows, render, send, record.

PostgreSQL is the source of truth. A batch claims its rows with ``FOR UPDATE SKIP LOCKED``
and a lease, so two workers never hold the same row; a worker that dies leaves its rows
to be re-queued when the lease runs out (see ``leases.reap``). Rows are recorded in small
flushes, so a killed worker can resend at most the messages of its last unflushed flush,
each with the same Message-ID.

A batch rides out a database restart: every statement it runs is repeated with backoff
while the database does not answer (``outages.patiently``), for as long as its lease holds, so
the outcomes it has are recorded once the database is back rather than sent again.

The parts: ``leases`` (claiming and recording rows), ``rendering`` (a notice per library
and language), ``emails`` (the email, serialised once per group), ``smtp`` (connections
and pipelining), ``links`` (unsubscribe tokens).
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.core.mail.message import make_msgid
from django.utils import translation

from portal.members.models import MemberLibrary

from ..conf import conf
from ..outages import REDIS_TRANSIENT, TRANSIENT, patiently
from . import leases, ratelimit
from .emails import Serialised, build_message
from .leases import Outcome, Row, backoff, lease_margin, worker_name
from .links import unsubscribe_prefix
from .models import Notice, message_id_for
from .rendering import branding_for, local_paragraphs, prepare
from .smtp import Connections, PermanentFailure, classify

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    stopped: str = ""  # "paused", "cancelled", "rate" when the batch stopped early
    retry_in: float | None = None


# Branding and rendered groups of the notices this process sends, kept across batches: a
# batch of 500 rows spans hundreds of (library, language) groups, so rendering per batch
# would render nearly every message. A sending notice's text and participations no longer
# change. Bounded: a few notices, each at most libraries x languages groups.
# Keyed by notice and generation: resuming or retrying a notice (after fixing a library's
# mail account, say) makes every worker read the senders and render again.
_GROUPS: OrderedDict[tuple[int, int], tuple[dict, dict, dict]] = OrderedDict()
_GROUP_NOTICES = 4


def _group_cache(key: tuple[int, int]) -> tuple[dict, dict, dict]:
    if key in _GROUPS:
        _GROUPS.move_to_end(key)
    else:
        _GROUPS[key] = ({}, {}, {})
        while len(_GROUPS) > _GROUP_NOTICES:
            _GROUPS.popitem(last=False)
    return _GROUPS[key]


def send_batch(notice_id: int, worker: str | None = None) -> BatchResult:
    """Claim one batch of the notice's rows and send it. Safe to call any number of times."""
    worker = worker or worker_name()
    result = BatchResult()
    size = conf().batch_size
    lease = conf().lease_seconds
    check_every = conf().check_every
    # Also by time: against a slow server 50 messages can take minutes, and a pause must
    # take effect within seconds.
    check_seconds = conf().check_seconds
    notice = patiently(time.monotonic() + lease, Notice.objects.filter(pk=notice_id).first)
    if notice is None or notice.state != Notice.State.SENDING:
        return result
    leased_at = time.monotonic()
    rows = leases.claim_patiently(notice_id, worker, size, lease)
    result.claimed = len(rows)
    if not rows:
        return result

    def held() -> float:
        """Until when the database may be waited for: the rows' lease, less a margin."""
        return leased_at + lease - lease_margin(lease)

    rows, deferred, wait = patiently(
        held(), ratelimit.admit, notice, rows, errors=(*TRANSIENT, *REDIS_TRANSIENT)
    )
    if deferred:
        patiently(
            held(), leases.release, worker, [r.id for r in deferred], cancelled=False, wait=wait
        )
        result.stopped, result.retry_in = "rate", wait
    brandings, prepared, serialised = _group_cache((notice_id, notice.generation))
    missing = {r.library_id for r in rows} - brandings.keys()
    if missing:

        def fresh_brandings():
            fresh = branding_for(missing)
            local_paragraphs(notice_id, fresh)
            return fresh

        brandings.update(patiently(held(), fresh_brandings))
    prefix = unsubscribe_prefix()
    connections = Connections()
    outcome = Outcome()
    pending = [r.id for r in rows]

    def record(finished: list[tuple]) -> None:
        for done, exc in finished:
            if exc is None:
                outcome.sent.append(done.id)
                result.sent += 1
                continue
            failure = classify(exc)
            if isinstance(failure, PermanentFailure):
                outcome.failed.append((done.id, str(failure)))
                result.failed += 1
            else:
                outcome.retry.append((done.id, str(failure), done.attempts))
                result.retried += 1
                delay = backoff(done.attempts)
                result.retry_in = min(result.retry_in or delay, delay)
            if not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError):
                connections.reset(brandings[done.library_id].transport)  # may be broken

    checked_at = time.monotonic()
    try:
        for index, row in enumerate(rows):
            due = index % check_every == 0 or time.monotonic() - checked_at >= check_seconds
            if index and due:
                checked_at = time.monotonic()
                record(connections.drain())  # nothing in flight while the rows are recorded
                # The rest's lease is renewed only once a third of it has gone: renewing at
                # every check rewrote each row about four times in a fast batch.
                renew = time.monotonic() - leased_at > lease / 3
                # Through a database restart: the outcomes wait here, then are recorded.
                renewed_at = time.monotonic()
                patiently(
                    held(), leases.flush, outcome, worker, pending[index:] if renew else [], lease
                )
                leased_at = renewed_at if renew else leased_at
                state = patiently(held(), leases.notice_state, notice_id)
                if state != Notice.State.SENDING:
                    cancelled = state == Notice.State.CANCELLED
                    patiently(held(), leases.release, worker, pending[index:], cancelled=cancelled)
                    result.stopped = state
                    return result
            branding = brandings[row.library_id]
            key = (row.library_id, row.language)
            if key not in prepared:
                prepared[key] = patiently(held(), prepare, notice, branding, row.language)
                serialised[key] = Serialised(notice, prepared[key], branding, prefix)
            try:
                conn = connections.for_sender(branding.transport)
                data = serialised[key].render(notice_id, row)
                pipeline = connections.pipeline(branding.transport)
                if data is not None and pipeline is not None:
                    record(pipeline.send(row, serialised[key].envelope_from, row.email, data))
                    continue
                if pipeline is not None:
                    record(pipeline.drain())  # the ordinary path needs the session idle
                build_message(notice, row, prepared[key], branding, conn).send()
            except Exception as exc:  # noqa: BLE001 - every failure is recorded on its row
                record([(row, exc)])
            else:
                record([(row, None)])
        record(connections.drain())
        patiently(held(), leases.flush, outcome, worker, [], lease)
    finally:
        connections.close()
    return result


def send_test(notice: Notice, library: MemberLibrary, language: str, addresses: list[str]) -> int:
    """Send a marked test copy to each address through the library's own sender."""
    from django.utils.translation import gettext

    brandings = branding_for({library.pk})
    local_paragraphs(notice.pk, brandings)
    branding = brandings[library.pk]
    prepared = prepare(notice, branding, language)
    with translation.override(language):
        mark = gettext("[Test]")
    prepared.subject = f"{mark} {prepared.subject}"
    connections = Connections()
    try:
        conn = connections.for_sender(branding.transport)
        for address in addresses:
            # Delivery id 0: no row, so the unsubscribe link in a test leads nowhere.
            row = Row(0, library.pk, language, 0, address, "")
            message = build_message(notice, row, prepared, branding, conn)
            # Each test copy is a message of its own: mail clients thread (or drop) copies
            # that share a Message-ID.
            message.extra_headers["Message-ID"] = make_msgid(
                f"notice-{notice.pk}.test", domain=message_id_for(0, 0).rsplit("@", 1)[1][:-1]
            )
            message.send()
    finally:
        connections.close()
    return len(addresses)
