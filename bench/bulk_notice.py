"""A patron notice to every patron: planning time, send rate, memory and the count check.

    DATABASE_URL=postgres://concord:concord@127.0.0.1:5432/concord_notices_bench \\
        .venv/bin/python bench/bulk_notice.py                    # 500 libraries, 1,000,000
    ... bench/bulk_notice.py --patrons 200000 --reuse             # keep a seeded database

Seeds the database with ``seed_demo`` (``--reset``: point it at a database you can throw
away) unless ``--reuse`` finds the patrons already there; plans a notice through the
engine's own service; starts Postfix's ``smtp-sink`` on loopback and measures its raw
limit with ``smtp-source`` (10 sessions, the notice's message size); starts real
``celery worker`` processes on Redis; waits until every row is sent and prints the
figures. Workers and the sink are stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bulk_notice_settings")
os.environ.setdefault("NOTICE_QUEUE", f"bench-notices-{uuid.uuid4().hex[:8]}")

SINK = "/usr/sbin/smtp-sink"
SOURCE = "/usr/sbin/smtp-source"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a process in KiB, from /proc."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def cpu_seconds(pids) -> float:
    """User + system CPU time of processes, from /proc (what they cost, whatever the load)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / ticks


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores so far, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def backend_pids(database: str) -> list[int]:
    """The PostgreSQL server processes serving the bench database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )
        return [row[0] for row in cursor.fetchall()]


def sink_messages(path: Path) -> int:
    """The last ``mesg=`` counter smtp-sink printed."""
    counts = re.findall(rb"mesg=(\d+)", path.read_bytes()[-200:])
    return int(counts[-1]) if counts else 0


def seed(args) -> None:
    import io

    from django.core.management import call_command
    from django.test.utils import override_settings

    started = time.perf_counter()
    # seed_demo insists on DEBUG (it creates known logins); the workers run without it.
    with override_settings(DEBUG=True):
        call_command(
            "seed_demo",
            libraries=args.libraries,
            patrons=args.patrons,
            staff_per_library=1,
            reset=True,
            stdout=io.StringIO(),
        )
    print(
        f"seeded {args.libraries} libraries, {args.patrons:,} patrons in "
        f"{time.perf_counter() - started:.1f} s"
    )


def make_notice(port: int):
    from django.utils import timezone

    from plugins.patron_notices.models import Delivery, LibrarySender, Notice
    from portal.members.models import MemberLibrary

    # The previous run's rows in one statement: the ORM's cascade would fetch each one.
    old = Delivery.objects.filter(notice__title__startswith="bench:")
    old._raw_delete(old.db)
    Notice.objects.filter(title__startswith="bench:").delete()
    root = MemberLibrary.get_first_root_node()
    LibrarySender.objects.all().delete()
    LibrarySender.objects.create(
        library=root,
        from_email="notices@consortium.example",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_use_tls=False,
    )
    body = (
        "<p>Dear {first_name},</p><p>All fines are waived while {library_name} is closed for"
        " the flood repairs. Loans due in the closure are renewed automatically; you can"
        " return items at any member library.</p><p>Questions: {library_reply_to}.</p>"
    )
    versions = [
        ("version", {"language": lang, "subject": subject, "body": [("paragraph", body)]})
        for lang, subject in (
            ("en", "Fines waived at {library_name}"),
            ("es", "Multas perdonadas en {library_name}"),
            ("fr", "Amendes annulées à {library_name}"),
        )
    ]
    return Notice.objects.create(
        title=f"bench: closure {timezone.now():%H:%M:%S}",
        category=Notice.Category.EMERGENCY,
        versions=versions,
        state=Notice.State.SCHEDULED,
        send_at=timezone.now(),
    )


def sample_message_size(notice) -> int:
    """Bytes of one message as the engine builds it (the size smtp-source sends)."""
    from plugins.patron_notices.models import Delivery
    from plugins.patron_notices.notices import emails, leases, rendering

    delivery = Delivery.objects.filter(notice=notice).select_related("contact", "patron").first()
    row = leases.Row(
        delivery.pk,
        delivery.library_id,
        delivery.language,
        1,
        delivery.contact.email,
        delivery.patron.first_name if delivery.patron else "",
    )
    brandings = rendering.branding_for({row.library_id})
    branding = brandings[row.library_id]
    prepared = rendering.prepare(notice, branding, row.language)
    return len(emails.build_message(notice, row, prepared, branding, None).message().as_bytes())


def raw_limit(port: int, size: int, count: int) -> float:
    """smtp-source: ``count`` messages of ``size`` bytes over 10 parallel sessions that each
    stay connected (-d), as the engine reuses its connection."""
    started = time.perf_counter()
    subprocess.run(
        [
            SOURCE,
            "-d",
            "-s",
            "10",
            "-m",
            str(count),
            "-l",
            str(size),
            "-f",
            "bench@consortium.example",
            "-t",
            "patron@example.net",
            f"127.0.0.1:{port}",
        ],
        check=True,
    )
    return count / (time.perf_counter() - started)


def start_workers(n: int, env: dict) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--pool=solo",
                    "-Q",
                    env["NOTICE_QUEUE"],
                    "--loglevel=WARNING",
                    "-n",
                    f"bench{i}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
            )
        )
    return procs


def stop(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", type=int, default=500)
    parser.add_argument("--patrons", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the patrons already there")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=4, help="batch chains in the queue")
    parser.add_argument("--source-messages", type=int, default=50_000)
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL to a database that may be wiped")
    missing = [tool for tool in (SINK, SOURCE) if not os.access(tool, os.X_OK)]
    if missing:
        # Said first, before minutes of seeding: the measurement needs a real SMTP peer.
        sys.exit(
            f"bench/bulk_notice.py needs Postfix's smtp-sink and smtp-source ({', '.join(missing)}"
            " missing). On Debian: sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "
            "--no-install-recommends postfix"
        )

    import django
    from django.core.management import call_command

    django.setup()
    # A fresh database gets its tables first (the seeder and the engine need them).
    call_command("migrate", verbosity=0, interactive=False)
    from django.db.models import Count, Max, Min

    from plugins.patron_notices.models import Delivery, Notice, Patron
    from plugins.patron_notices.notices import services as notices

    existing = Patron.objects.count()
    if not (args.reuse and existing >= args.patrons * 0.99):
        seed(args)
    print(f"patrons: {Patron.objects.count():,}")

    port = free_port()
    sink_out = Path(f"/tmp/bulk-notice-sink-{port}.out")
    sink = subprocess.Popen(
        [SINK, "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"],
        stdout=sink_out.open("wb"),
        stderr=subprocess.STDOUT,
    )
    workers: list[subprocess.Popen] = []
    try:
        time.sleep(0.3)
        notice = make_notice(port)

        started = time.perf_counter()
        planned = notices.do_start_sending(notice.pk)  # plans, then queues on commit
        planning = time.perf_counter() - started
        print(
            f"planning: {planned:,} recipients in {planning:.2f} s "
            f"(target < 30 s) — deduplicated from the consenting patrons"
        )

        size = sample_message_size(notice)
        source_rate = raw_limit(port, size, args.source_messages)
        before = sink_messages(sink_out)
        print(
            f"smtp-source: {args.source_messages:,} messages of {size:,} B, 10 sessions: "
            f"{source_rate:,.0f} msg/s"
        )

        env = {
            **os.environ,
            "NOTICE_BATCH": str(args.batch),
            "NOTICE_PARALLEL": str(args.parallel),
            # As deploy/concord.env.example sets it: one connection per worker, not per batch.
            "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60"),
        }
        # The batches were queued at planning; the workers take them from here.
        sink_cpu_before = cpu_seconds([sink.pid])  # smtp-source's share is not the engine's
        started = time.perf_counter()
        ticks_before = machine_ticks()
        workers = start_workers(args.workers, env)
        samples: list[tuple[float, int, list[int]]] = []
        first_sent_at = None
        while True:
            time.sleep(1)
            sent = Delivery.objects.filter(notice=notice, state=Delivery.State.SENT).count()
            elapsed = time.perf_counter() - started
            rss = [rss_kib(w.pid)[0] for w in workers if w.poll() is None]
            samples.append((elapsed, sent, rss))
            if sent and first_sent_at is None:
                first_sent_at = elapsed
            state = Notice.objects.get(pk=notice.pk).state
            if len(samples) % 10 == 0:
                rate = sent / max(elapsed - (first_sent_at or elapsed) + 1, 1)
                print(
                    f"  {elapsed:6.0f} s  sent {sent:,}  {rate:,.0f}/s  "
                    f"RSS {', '.join(f'{r // 1024} MiB' for r in rss)}",
                    flush=True,
                )
            if state != Notice.State.SENDING or any(w.poll() is not None for w in workers):
                break
        wall = time.perf_counter() - started
        ticks_after = machine_ticks()
        busy = (ticks_after[0] - ticks_before[0]) / max(ticks_after[1] - ticks_before[1], 1)
        # CPU the send cost: the workers, their database server processes and the sink. On
        # a shared machine this says what the engine needs, the rate what it got.
        from django.db import connection

        database = connection.settings_dict["NAME"]
        worker_cpu = cpu_seconds(w.pid for w in workers)
        all_cpu = worker_cpu + cpu_seconds([*backend_pids(database), sink.pid]) - sink_cpu_before
        load = os.getloadavg()
        peaks = [rss_kib(w.pid)[1] // 1024 for w in workers if w.poll() is None]
        counts = dict(
            Delivery.objects.filter(notice=notice)
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )
        # The send window from the rows themselves: first to last recorded sent_at.
        window = Delivery.objects.filter(notice=notice).aggregate(
            first=Min("sent_at"), last=Max("sent_at")
        )
        sending_seconds = (
            (window["last"] - window["first"]).total_seconds() if window["first"] else wall
        )
        rate = counts.get("sent", 0) / max(sending_seconds, 1e-9)
        received = sink_messages(sink_out) - before
    finally:
        stop(workers)
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)

    def at(fraction):
        target = samples[-1][1] * fraction
        return next((rss for _t, s, rss in samples if s >= target), samples[-1][2])

    print(f"workers: {args.workers} (solo pool), batch {args.batch}, {args.parallel} chains")
    print(
        f"send: {counts.get('sent', 0):,} sent in {sending_seconds:.1f} s from first to last "
        f"message = {rate:,.0f} msg/s (target >= 2,000); "
        f"{counts.get('sent', 0) / wall:,.0f} msg/s over {wall:.1f} s from starting the workers"
    )
    print(f"ratio to smtp-source: {rate / source_rate:.2f}")
    sent_total = counts.get("sent", 0)
    print(
        f"CPU: workers {worker_cpu:.1f} s ({sent_total / max(worker_cpu, 1e-9):,.0f} msg per "
        f"worker-CPU-second); workers + PostgreSQL + sink {all_cpu:.1f} s "
        f"({sent_total / max(all_cpu, 1e-9):,.0f} msg per CPU-second, so about "
        f"{2 * sent_total / max(all_cpu, 1e-9):,.0f} msg/s on two free cores); "
        f"load average at the end {load[0]:.1f}; the machine's cores were {busy:.0%} busy"
    )
    for label, fraction in (("10%", 0.1), ("50%", 0.5), ("100%", 1.0)):
        print(f"RSS per worker at {label}: {', '.join(f'{r // 1024} MiB' for r in at(fraction))}")
    print(f"peak RSS per worker: {', '.join(f'{p} MiB' for p in peaks)}")
    lost = planned - counts.get("sent", 0)
    verdict = "OK" if lost == 0 and received == planned else "MISMATCH"
    print(
        f"count check: planned {planned:,}, sent {counts.get('sent', 0):,}, "
        f"failed {counts.get('failed', 0):,}, still queued/sending "
        f"{counts.get('queued', 0) + counts.get('sending', 0):,}, "
        f"smtp-sink received {received:,} -> {verdict}"
        f" ({lost:,} lost)"
    )


if __name__ == "__main__":
    main()
