"""Patron import benchmark: a 1,000,000-row Koha-shaped CSV into PostgreSQL.

    DATABASE_URL=postgres://concord:concord@127.0.0.1:5432/concord \
        .venv/bin/python bench/patron_import.py [rows]

Creates a throw-away database (test settings), generates the file, imports it twice
(inserts, then all updates) through the same Importer the Celery task runs, and before
each import times a raw COPY of the same file into a bare table as the machine's floor.
Prints rows/s, the peak resident memory above the starting point, and the ratio to the
raw COPY beside it, in wall time and in CPU time (this process and its PostgreSQL
backend: on a shared machine the CPU ratio moves less with the neighbours' load).
Last, the floor of the writes themselves: the rows the imports wrote, COPYed back into the
same (emptied) tables with their indexes and WAL, against which the first import is set.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
os.environ.setdefault("CONCORD_VAR_DIR", "/tmp/concord-bench")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

KOHA = (
    "borrowernumber,cardnumber,surname,firstname,title,othernames,initials,address,city,"
    "zipcode,country,email,phone,mobile,dateofbirth,branchcode,categorycode,dateenrolled,"
    "dateexpiry,sort1,sort2,smsalertnumber,privacy,patron_attributes"
)
SURNAMES = ["Smith", "García", "Nguyen", "O'Brien", "Müller", "Okafor", "Kowalski", "Lee"]
FIRST = ["Ada", "Bob", "Chen", "Dana", "Élodie", "Femi", "Grace", "Hugo"]


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    """Samples resident memory every 50 ms while a block runs."""

    def __enter__(self):
        self.start = rss_kib()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_kib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def grew_mib(self) -> float:
        return (self.peak - self.start) / 1024


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU of a process (this one by default) from /proc: on a shared machine
    the CPU a step used says more than the wall time it took."""
    with open(f"/proc/{pid or 'self'}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def importer_class():
    from contextlib import contextmanager

    from plugins.patron_notices.directory.importer import Importer

    class CpuTimedImporter(Importer):
        """Also counts the PostgreSQL backend's CPU per phase."""

        def __init__(self, job, backend: int):
            super().__init__(job)
            self.backend = backend
            self.server_cpu: dict[str, float] = {}

        @contextmanager
        def phase(self, name: str):
            before = cpu_seconds(self.backend)
            try:
                with super().phase(name):
                    yield
            finally:
                spent = cpu_seconds(self.backend) - before
                self.server_cpu[name] = self.server_cpu.get(name, 0.0) + spent

    return CpuTimedImporter


def generate(path: Path, rows: int) -> None:
    rng = random.Random(6)
    branches = ["MAIN", "EAST", "WEST"]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(KOHA + "\n")
        for n in range(1, rows + 1):
            s, f = rng.choice(SURNAMES), rng.choice(FIRST)
            # About 2% share an address with another card: contacts must deduplicate.
            who = n if rng.random() > 0.02 else rng.randint(1, n)
            email = f"{f}.{s}{who}@example.org".lower().replace("'", "") if n % 17 else ""
            out.write(
                f'{n},{20000000 + n},{s},{f},,,,"{n} Main St, Apt {n % 40}",Springfield,'
                f"12345,US,{email},555-{n % 10000:04d},,1980-01-01,{rng.choice(branches)},"
                f"PT,2020-01-01,2028-12-31,,,,1,NOTICES:{n % 5 != 0:d}\n"
            )


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def raw_copy(path: Path) -> tuple[float, float]:
    """Seconds and CPU seconds (this process and its PostgreSQL backend) of a raw COPY."""
    columns = ", ".join(f"{c} text" for c in KOHA.split(","))
    backend = backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_patrons")
        cursor.execute(f"CREATE UNLOGGED TABLE bench_raw_patrons ({columns})")
        cpu_before = cpu_seconds() + cpu_seconds(backend)
        started = time.perf_counter()
        sql = "COPY bench_raw_patrons FROM STDIN (FORMAT csv, HEADER true)"
        with path.open("rb") as source, cursor.cursor.copy(sql) as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds() + cpu_seconds(backend) - cpu_before
        cursor.execute("DROP TABLE bench_raw_patrons")
    return elapsed, cpu


def write_floor(tables: list[str]) -> list[tuple[str, float, float]]:
    """What PostgreSQL alone takes to write the rows an import wrote: each table's rows
    copied out, the tables emptied, and the same rows COPYed back in binary format, with
    the tables' indexes and WAL as the import had them. No import can write for less."""
    backend = backend_pid()
    timings = []
    with ExitStack() as files, connection.cursor() as cursor:
        spools = {table: files.enter_context(tempfile.TemporaryFile()) for table in tables}
        for table, spool in spools.items():
            with cursor.cursor.copy(f"COPY {table} TO STDOUT (FORMAT BINARY)") as out:
                for chunk in out:
                    spool.write(chunk)
        # CASCADE: the preference changes referring to contacts (none in this run).
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        cursor.execute("CHECKPOINT")
        for table, spool in spools.items():
            spool.seek(0)
            cpu_before = cpu_seconds() + cpu_seconds(backend)
            started = time.perf_counter()
            with cursor.cursor.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as into:
                while chunk := spool.read(1 << 20):
                    into.write(chunk)
            elapsed = time.perf_counter() - started
            timings.append((table, elapsed, cpu_seconds() + cpu_seconds(backend) - cpu_before))
    return timings


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    # The machine is shared: the load says how much of it the run had.
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    config = setup_databases(verbosity=0, interactive=False)
    try:
        CpuTimedImporter = importer_class()
        from plugins.patron_notices.models import (
            Contact,
            ImportJob,
            Patron,
            PostalAddress,
            import_storage,
        )
        from tests import factories

        storage = import_storage()
        path = Path(storage.location) / "bench" / "koha.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        generate(path, rows)
        print(
            f"generated {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB in "
            f"{time.perf_counter() - started:.1f} s"
        )
        root = factories.consortium()
        library = factories.library(root, name="Bench Library", code="bench")
        for code in ("main", "east", "west"):
            factories.library(library, code=code)

        results = []
        runs = (
            ("first import (inserts)", False),
            ("second import (same file, full sync)", True),
        )
        for label, full_sync in runs:
            # The floor is timed next to each import: the machine is shared, and its load
            # changes from one minute to the next.
            copy_s, copy_cpu = raw_copy(path)
            print(
                f"raw COPY into a bare table: {copy_s:.2f} s ({rows / copy_s:,.0f} rows/s), "
                f"CPU {copy_cpu:.1f} s"
            )
            job = ImportJob.objects.create(
                library=library,
                file=str(path.relative_to(storage.location)),
                preset="koha",
                size=path.stat().st_size,
                status=ImportJob.Status.QUEUED,
                full_sync=full_sync,
            )
            backend = backend_pid()
            server_before, python_before = cpu_seconds(backend), cpu_seconds()
            with PeakRss() as memory:
                started = time.perf_counter()
                importer = CpuTimedImporter(job, backend)
                job = importer.run()
                elapsed = time.perf_counter() - started
            server_cpu = cpu_seconds(backend) - server_before
            python_cpu = cpu_seconds() - python_before
            assert job.status == ImportJob.Status.DONE, job.error
            results.append(elapsed)
            print(
                f"{label}: {elapsed:.2f} s, {rows / elapsed:,.0f} rows/s, "
                f"{job.rows_imported:,} imported, {job.rows_invalid} with problems, "
                f"peak RSS +{memory.grew_mib:.0f} MiB, {elapsed / copy_s:.1f}x raw COPY"
            )
            print(
                f"    CPU: Python {python_cpu:.1f} s, PostgreSQL backend {server_cpu:.1f} s, "
                f"{(python_cpu + server_cpu) / copy_cpu:.1f}x the raw COPY's CPU"
            )
            for phase, seconds in importer.timings.items():
                cpu = importer.server_cpu.get(phase, 0.0)
                print(f"    {phase}: {seconds:.2f} s (PostgreSQL CPU {cpu:.1f} s)")
        print(
            f"patrons {Patron.objects.count():,}, contacts "
            f"{Patron.objects.exclude(contact=None).values('contact').distinct().count():,}"
        )
        path.unlink()
        floor = write_floor(
            [Contact._meta.db_table, Patron._meta.db_table, PostalAddress._meta.db_table]
        )
        floor_s = sum(seconds for _table, seconds, _cpu in floor)
        print(
            f"the same rows COPYed into the directory's own tables (indexes, WAL): "
            f"{floor_s:.2f} s, CPU {sum(cpu for *_rest, cpu in floor):.1f} s, "
            f"{floor_s / copy_s:.1f}x raw COPY; the first import is "
            f"{results[0] / floor_s:.1f}x this floor"
        )
        for table, seconds, cpu in floor:
            print(f"    {table}: {seconds:.2f} s (CPU {cpu:.1f} s)")
        print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        teardown_databases(config, verbosity=0)


if __name__ == "__main__":
    main()
