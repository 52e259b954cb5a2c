"""A patron notice through a database restart and a broker restart: lost, duplicates, stall.

    .venv/bin/python bench/notice_faults.py                     # 3,000 recipients, 2 workers
    .venv/bin/python bench/notice_faults.py --recipients 20000 --outage 5

Starts a PostgreSQL cluster (``initdb`` in a temporary directory) and a ``redis-server`` of
its own on free loopback ports (never the machine's shared ones), migrates, seeds the
recipients, runs a real SMTP server that keeps every message and real ``celery worker``
processes, and starts a notice. At 30 % of the messages PostgreSQL is stopped (``pg_ctl
stop -m fast``: sessions get AdminShutdown), kept down ``--outage`` seconds and started;
at 60 % Redis is killed (nothing persisted: every queued message is gone), kept down as
long, and started. Nothing else repairs the send: the periodic repair (``reap``) is never
run. Prints what the SMTP server got: recipients lost, duplicates, and how long sending
stood still after each server was back.

``--postgres-data DIR --postgres-port N --redis-port N`` use servers someone else started
(the test does, to own them): the bench restarts them but does not remove them.
``--schema-from URL`` loads a migrated database from another server instead of migrating
(the test gives its run's template: migrating took half the test's time).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import uuid
from collections import Counter
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.patron_notices.fault_servers import ThrowawayPostgres, ThrowawayRedis  # noqa: E402


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--libraries", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--parallel",
        type=int,
        default=4,
        help="chains of batches; more than workers, so some wait in the broker when it goes",
    )
    parser.add_argument(
        "--refuse-every",
        type=int,
        default=200,
        help="one recipient in so many is refused once with a 451 (retried 5 s later)",
    )
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--check-every", type=int, default=20)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--outage", type=float, default=3.0, help="seconds each server is down")
    parser.add_argument("--smtp-delay", type=float, default=0.004, help="seconds per message")
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--postgres-data")
    parser.add_argument("--postgres-port", type=int)
    parser.add_argument("--redis-port", type=int)
    parser.add_argument("--schema-from", help="a migrated database to copy, not migrate")
    parser.add_argument("--json", action="store_true", help="one JSON line, for the test")
    return parser.parse_args()


def main() -> int:
    args = arguments()
    if args.postgres_data:
        postgres = ThrowawayPostgres(args.postgres_data, args.postgres_port)
    else:
        postgres = ThrowawayPostgres().create()
    broker = ThrowawayRedis(args.redis_port) if args.redis_port else ThrowawayRedis().start()
    try:
        if args.schema_from:
            from tests import database_template

            database_template.copy_into(args.schema_from, postgres.url)
        os.environ.update(
            DATABASE_URL=postgres.url,
            REDIS_URL=broker.url,
            DJANGO_SETTINGS_MODULE="tests.patron_notices.worker_settings",
            NOTICE_QUEUE=f"fault-notices-{uuid.uuid4().hex[:8]}",
            CONCORD_VAR_DIR=os.environ.get("CONCORD_VAR_DIR", "/tmp/concord-bench"),
        )
        figures = scenario(args, postgres, broker)
    finally:
        if not args.redis_port:
            broker.stop()
        if not args.postgres_data:
            postgres.destroy()
    if args.json:
        print(json.dumps(figures))
    else:
        report(figures)
    return 0 if figures["lost"] == 0 and figures["done"] else 1


def scenario(args, postgres: ThrowawayPostgres, broker: ThrowawayRedis) -> dict:
    import django

    django.setup()
    from aiosmtpd.controller import Controller
    from django.core.management import call_command
    from django.db import DatabaseError, InterfaceError, connection, transaction
    from django.db.models import Count

    from plugins.patron_notices.models import Delivery, Notice
    from plugins.patron_notices.notices import leases
    from plugins.patron_notices.notices import services as notices
    from tests import factories
    from tests.patron_notices.engine_support import (
        Recorder,
        Workers,
        bulk_audience,
        free_port,
        notice,
        office_sender,
    )

    class TimedRecorder(Recorder):
        """Also when each message was accepted."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.times: list[float] = []

        async def handle_DATA(self, server, session, envelope):
            reply = await super().handle_DATA(server, session, envelope)
            with self.lock:
                self.times.append(time.monotonic())
            return reply

    def retrying(fn, *args):
        """``fn(*args)`` through this process's own broken connection after a restart."""
        for _ in range(60):
            try:
                return fn(*args)
            except (DatabaseError, InterfaceError):
                connection.close()
                time.sleep(0.5)
        return fn(*args)

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    migrated = time.monotonic()
    root = factories.consortium()
    libraries = [factories.library(root, name=f"Library {i}") for i in range(args.libraries)]
    addresses = []
    share = args.recipients // args.libraries
    for i, library in enumerate(libraries):
        count = share if i < args.libraries - 1 else args.recipients - share * i
        addresses += bulk_audience(library, count, f"l{i}x")

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    recorder = TimedRecorder(delay=args.smtp_delay)
    if args.refuse_every:
        for address in addresses[:: args.refuse_every]:
            recorder.temporary[address] = 1
    smtp = Controller(recorder, hostname="127.0.0.1", port=free_port())
    smtp.start()
    office_sender(root, smtp.port)
    workers = Workers(
        os.environ["NOTICE_QUEUE"],
        NOTICE_BATCH=args.batch,
        NOTICE_CHECK_EVERY=args.check_every,
        NOTICE_PARALLEL=args.parallel,
        NOTICE_LEASE=args.lease,
        NOTICE_RETRY_BASE=5,
    )
    workers.env["DJANGO_SETTINGS_MODULE"] = "bench.notice_faults_settings"
    events: dict[str, float] = {}
    try:
        for _ in range(args.workers):
            workers.start()
        time.sleep(3)  # the workers connect to the broker
        n = notice()
        Notice.objects.filter(pk=n.pk).update(state=Notice.State.APPROVED)
        with transaction.atomic():
            notices.do_schedule_notice(None, Notice.objects.get(pk=n.pk))
        events["start"] = time.monotonic()
        total = len(addresses)

        def until(count: int) -> bool:
            """Whether ``count`` messages arrived within the timeout (else sending stopped)."""
            deadline = time.monotonic() + args.timeout
            while len(recorder.messages) < count:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
            return True

        done = False
        if until(int(total * 0.3)):
            events["postgres_down"] = time.monotonic()
            events["postgres_back"] = postgres.restart(args.outage)
        if "postgres_back" in events and until(int(total * 0.6)):
            events["redis_down"] = time.monotonic()
            events["redis_back"] = broker.restart(args.outage)
        if "redis_back" in events:
            # Done when every recipient has a message and the notice says so; never reaped.
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                if len({m["To"] for m in recorder.messages}) >= total:
                    state = retrying(leases.notice_state, n.pk)
                    if state == Notice.State.DONE:
                        done = True
                        break
                time.sleep(0.2)
        events["end"] = time.monotonic()
        time.sleep(2)  # a late duplicate would arrive now
    finally:
        workers.stop()
        smtp.stop()

    received = Counter(m["To"] for m in recorder.messages)
    ids = {}
    for m in recorder.messages:
        ids.setdefault(m["To"], set()).add(m["Message-ID"])
    times = sorted(recorder.times)

    def resumed_after(back: str) -> float | None:
        """From the server answering again to the next message accepted; None: never."""
        later = [t for t in times if back in events and t > events[back]]
        return round(later[0] - events[back], 2) if later else None

    def stood_still(down: str, until: str) -> float | None:
        """The longest time without a message from a second before the fault to ``until``
        (or the end of the run, when sending stopped and never reached it)."""
        if down not in events:
            return None
        end = events.get(until, events["end"])
        around = [t for t in times if events[down] - 1 <= t <= end] + [end]
        return round(max((b - a for a, b in pairwise(around)), default=0.0), 2)

    states = dict(
        retrying(
            lambda: list(
                Delivery.objects.filter(notice=n).values_list("state").annotate(c=Count("id"))
            ),
        )
    )
    return {
        "recipients": len(addresses),
        "workers": args.workers,
        "parallel": args.parallel,
        "refused_once": len(addresses[:: args.refuse_every]) if args.refuse_every else 0,
        "batch": args.batch,
        "lease": args.lease,
        "outage": args.outage,
        "lost": len(set(addresses) - set(received)),
        "duplicates": sum(c - 1 for c in received.values()),
        "message_ids_stable": all(len(v) == 1 for v in ids.values()),
        "postgres_resumed_after": resumed_after("postgres_back"),
        "postgres_stall": stood_still("postgres_down", "redis_down"),
        "redis_resumed_after": resumed_after("redis_back"),
        "redis_stall": stood_still("redis_down", "end"),
        "done": done,
        "received": len(received),
        "rows": states,
        "send_seconds": round(events["end"] - events["start"], 1),
        "migrate_seconds": round(migrated - started, 1),
    }


def report(f: dict) -> None:
    print(
        f"{f['recipients']:,} recipients ({f['refused_once']} refused once with a 451), "
        f"{f['workers']} workers, {f['parallel']} chains, batches of {f['batch']}, "
        f"lease {f['lease']:g} s; each server down {f['outage']:g} s"
    )
    print(f"lost: {f['lost']}   duplicates: {f['duplicates']}   notice done: {f['done']}")
    print(
        f"PostgreSQL restart: first message {f['postgres_resumed_after']} s after it answered; "
        f"longest time without a message {f['postgres_stall']} s"
    )
    print(
        f"Redis restart: first message {f['redis_resumed_after']} s after it answered; "
        f"longest time without a message {f['redis_stall']} s"
    )
    print(f"rows: {f['rows']}; send {f['send_seconds']} s (migrate {f['migrate_seconds']} s)")


if __name__ == "__main__":
    sys.exit(main())
