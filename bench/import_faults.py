"""A patron import through a database restart: a clear failed job or a finished one, never
half-written.

    .venv/bin/python bench/import_faults.py                 # 200,000 rows, restart while writing
    .venv/bin/python bench/import_faults.py --rows 500000 --at validating

Starts a PostgreSQL cluster and a Redis of its own (as bench/notice_faults.py does), a
real ``celery worker``, and runs a Koha import through the portal's own services. When
the job reports the phase ``--at`` (``writing``: the set-based upsert, one transaction),
PostgreSQL is stopped (``-m fast``), kept down ``--outage`` seconds and started. Prints
the job's outcome and the library's patron count, then imports the same file again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.patron_notices.fault_servers import ThrowawayPostgres, ThrowawayRedis  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--at", choices=["validating", "deduplicating", "writing"], default="writing"
    )
    parser.add_argument("--outage", type=float, default=3.0)
    args = parser.parse_args()
    postgres, broker = ThrowawayPostgres().create(), ThrowawayRedis().start()
    try:
        os.environ.update(
            DATABASE_URL=postgres.url,
            REDIS_URL=broker.url,
            DJANGO_SETTINGS_MODULE="tests.patron_notices.worker_settings",
            NOTICE_QUEUE=f"fault-imports-{uuid.uuid4().hex[:8]}",
            CONCORD_VAR_DIR=os.environ.get("CONCORD_VAR_DIR", "/tmp/concord-bench"),
        )
        return scenario(args, postgres)
    finally:
        broker.stop()
        postgres.destroy()


def scenario(args, postgres: ThrowawayPostgres) -> int:
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import DatabaseError, InterfaceError, connection, transaction

    from bench.patron_import import generate
    from plugins.patron_notices.directory import services
    from plugins.patron_notices.models import ImportJob, Patron
    from portal.members.roles import COMMUNICATIONS
    from tests import factories
    from tests.patron_notices.engine_support import Workers

    def retrying(fn, *a):
        for _ in range(120):
            try:
                return fn(*a)
            except (DatabaseError, InterfaceError):
                connection.close()
                time.sleep(0.5)
        return fn(*a)

    call_command("migrate", verbosity=0)
    root = factories.consortium()
    library = factories.library(root, name="Bench Library", code="bench")
    for code in ("main", "east", "west"):
        factories.library(library, code=code)
    comms = factories.member(library, COMMUNICATIONS)
    path = Path(os.environ["CONCORD_VAR_DIR"]) / f"faults-{uuid.uuid4().hex[:8]}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(path, args.rows)
    content = path.read_bytes()
    path.unlink()

    def start_import() -> int:
        upload = SimpleUploadedFile("patrons.csv", content, content_type="text/csv")
        job, _header = services.do_upload_import(comms, library, upload, "koha")
        with transaction.atomic():
            services.do_run_import(comms, job, job.mapping, "valid_rows", False)
        return job.pk

    def finished(job_id: int, timeout: float = 600) -> ImportJob:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = retrying(lambda: ImportJob.objects.get(pk=job_id))
            if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
                return job
            time.sleep(0.2)
        raise TimeoutError(f"import {job_id} still {job.status} after {timeout} s")

    workers = Workers(os.environ["NOTICE_QUEUE"])
    workers.queue = "celery"  # where an import is queued; this Redis is the bench's own
    try:
        workers.start()
        time.sleep(3)
        job_id = start_import()
        while True:
            job = ImportJob.objects.get(pk=job_id)
            if job.phase == args.at or job.status not in (
                ImportJob.Status.QUEUED,
                ImportJob.Status.RUNNING,
            ):
                break
            time.sleep(0.02)
        phase_at_restart = job.phase
        down = time.monotonic()
        postgres.restart(args.outage)
        back = time.monotonic()
        job = finished(job_id)
        patrons = retrying(
            lambda: Patron.objects.filter(library__path__startswith=library.path).count()
        )
        print(
            f"{args.rows:,} rows; PostgreSQL stopped at the phase '{phase_at_restart}', "
            f"down {back - down:.1f} s"
        )
        print(f"job: {job.status} (phase {job.phase}); error: {job.error or '-'}")
        print(f"patrons written: {patrons:,}")

        again = finished(start_import())
        total = Patron.objects.filter(library__path__startswith=library.path).count()
        print(
            f"the same file again: {again.status}, {again.rows_imported:,} imported; "
            f"patrons now {total:,}"
        )
        half_written = patrons not in (0, total)
        clear = job.status == ImportJob.Status.DONE or (
            job.status == ImportJob.Status.FAILED and job.error
        )
        print(f"half-written: {'YES' if half_written else 'no'}; outcome clear: {bool(clear)}")
        return 0 if clear and not half_written else 1
    finally:
        workers.stop()


if __name__ == "__main__":
    sys.exit(main())
