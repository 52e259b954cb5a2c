"""The patron import: one ImportJob run from its file to the directory.

The file is read line by line and each row validated in Python (email syntax, dates,
branch codes, encoding); valid rows are streamed with COPY into a temporary table, where
PostgreSQL finds duplicate card numbers and writes everything with set-based statements
(``postgres_writer``) — memory stays flat whatever the file's size. Problems name the
file line and column, never the patron's data (the raw row is kept only for the download).
The parts live beside it: ``presets`` (columns), ``upload`` (the file), ``rows`` (one row's
checks), ``locks``, and the two writers, ``postgres_writer`` and ``orm_writer``.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ImportJob, ImportProblem
from .orm_writer import OrmUpsert
from .postgres_writer import PostgresUpsert
from .presets import mapping_for
from .rows import Problem, RowChecker, Stats, branch_codes
from .uploads import MAX_COLUMNS, MAX_RAW, MAX_ROW_BYTES, ImportRefused, Lines, csv_line, size_text


class Importer:
    """Runs one ImportJob. Progress is saved as it goes; the patron table changes at the end.

    ``timings`` holds the seconds each phase took (the benchmark prints them).
    """

    def __init__(self, job: ImportJob, progress_every: int = 50_000, engine: str | None = None):
        self.job = job
        self.progress_every = progress_every
        self.stats = Stats()
        self._problems: list[ImportProblem] = []
        self.mapping: dict[str, str] = dict(job.mapping or {})
        self.offset = 0
        self.branches: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self.phases: list[str] = []  # every phase reported, in order (tests read it)
        self._side = None
        self.has_address = False  # whether the file has address columns (set on reading)
        # "sql" (PostgreSQL: COPY and set-based SQL) or "orm" (any database; the demo's).
        self.engine = engine or ("sql" if connection.vendor == "postgresql" else "orm")

    @contextmanager
    def phase(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    # -- problems ------------------------------------------------------------------------
    def problem(self, p: Problem) -> None:
        self.stats.problems += 1
        self._problems.append(
            ImportProblem(
                job=self.job,
                line=p.line,
                column=p.column[:100],
                code=p.code,
                message=str(p.message)[:300],
                raw=p.raw,
            )
        )
        # Written between COPY batches (save_progress), never during one.

    def duplicate(self, line: int, first: int, raw: str) -> None:
        """A card number seen before in the file: the first row stands, this one is listed."""
        self.problem(
            Problem(
                line,
                self.mapping.get("card_number", "card_number"),
                "card_duplicate",
                _("Card number already on line %(line)d.") % {"line": first},
                raw,
            )
        )

    def flush_problems(self) -> None:
        ImportProblem.objects.bulk_create(self._problems, batch_size=1000)
        self._problems = []

    # -- reading -------------------------------------------------------------------------
    def rows(self, stream) -> Iterator[tuple]:
        """Valid staging rows (see STAGE_COLUMNS); problems recorded on the way.

        A row's line is the file line it starts on; its offset the byte where it starts.
        """
        job = self.job
        lines = Lines(stream, self.stats.latin1_lines.append)
        reader = csv.reader(lines)
        header = None
        checker = None
        stats = self.stats
        start_line, start_offset = 1, 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                # A field longer than the csv module reads (128 KB), a NUL byte: the file
                # is not the CSV it claims to be from here on.
                raise ImportRefused(
                    _("Line %(line)d cannot be read as CSV (%(why)s); nothing was imported.")
                    % {"line": start_line, "why": _csv_reason(exc)}
                ) from None
            line, offset = start_line, start_offset
            start_line, start_offset = reader.line_num + 1, lines.offset
            self.offset = start_offset
            if not (row and row[0].strip()) and not "".join(row).strip():
                continue  # blank lines are not rows (the first cell settles most rows)
            if start_offset - offset > MAX_ROW_BYTES and checker is not None:
                stats.rows += 1
                self.problem(
                    Problem(
                        line,
                        "",
                        "row_too_long",
                        _("This row is longer than %(n)s: is it one patron?")
                        % {"n": size_text(MAX_ROW_BYTES)},
                        csv_line(row)[:MAX_RAW],
                    )
                )
                continue
            if checker is None:
                header = [cell.strip() for cell in row]
                mapping = job.mapping or mapping_for(job.preset, header)
                self.mapping = mapping
                self.branches = branch_codes(job.library)
                checker = RowChecker(header, mapping, self.branches)
                self.has_address = checker.has_address
                stage = checker.stage
                if checker.missing_required():
                    raise ImportRefused(_("The file has no card number column."))
                if len(header) > MAX_COLUMNS:
                    raise ImportRefused(
                        _("The file has %(n)d columns; at most %(max)d are read.")
                        % {"n": len(header), "max": MAX_COLUMNS}
                    )
                continue
            stats.rows += 1
            staged = stage(line, offset, row)
            if staged is None:
                staged, problems = checker.check(line, row, offset)
                if problems:
                    raw = csv_line(row)[:MAX_RAW]
                    for p in problems:
                        p.raw = raw
                        self.problem(p)
                    continue
            yield staged
        if header is None:
            raise ImportRefused(_("The file is empty."))

    def save_progress(self) -> None:
        self.flush_problems()
        ImportJob.objects.filter(pk=self.job.pk).update(
            bytes_read=self.offset, rows_read=self.stats.rows, rows_invalid=self.stats.problems
        )

    def report(self, phase: str) -> None:
        """Say what the import is doing now, where the admin's progress bar can see it.

        Inside the import's transaction the job row is written over a second connection
        that commits at once (the bar would otherwise wait for the whole import); the
        transaction never writes that row itself, so the two never wait for each other.
        """
        self.job.phase = phase
        self.phases.append(phase)
        if not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job.pk).update(phase=phase)
        elif connection.vendor == "postgresql":
            if self._side is None:
                self._side = connections.create_connection(DEFAULT_DB_ALIAS)
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportJob._meta.db_table} SET phase = %s WHERE id = %s",  # noqa: S608
                    [phase, self.job.pk],
                )
        # SQLite (the demo): one writer at a time; the bar shows the phase after commit.

    # -- running -------------------------------------------------------------------------
    def run(self) -> ImportJob:
        job = self.job
        job.status = ImportJob.Status.RUNNING
        job.phase = ImportJob.Phase.VALIDATING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "phase", "started_at"])
        self.phases.append(job.phase)
        ImportProblem.objects.filter(job=job).delete()
        try:
            with job.file.open("rb") as stream:
                if self.engine == "sql":
                    outcome = PostgresUpsert(self).run(stream)
                else:
                    outcome = OrmUpsert(self).run(stream)
        except ImportRefused as exc:
            self.flush_problems()
            return self.finish(ImportJob.Status.REJECTED, error=str(exc))
        except Exception:
            # The task records the failure; the bar stops here rather than spin.
            ImportJob.objects.filter(pk=job.pk).update(phase=ImportJob.Phase.FAILED)
            raise
        finally:
            if self._side is not None:
                self._side.close()
                self._side = None
        self.flush_problems()
        return self.finish(
            outcome["status"], imported=outcome["imported"], expired=outcome["expired"]
        )

    def finish(self, status, imported=0, expired=0, error="") -> ImportJob:
        job = self.job
        job.status = status
        job.rows_read = self.stats.rows
        job.rows_invalid = ImportProblem.objects.filter(job=job).values("line").distinct().count()
        job.rows_imported = imported
        job.rows_expired = expired
        job.bytes_read = job.size
        job.finished_at = timezone.now()
        job.error = error
        job.phase = ImportJob.Phase.DONE
        self.phases.append(job.phase)
        job.save()
        return job

    def all_or_nothing_failed(self) -> bool:
        return self.job.mode == ImportJob.Mode.ALL_OR_NOTHING and self.stats.problems > 0


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return _("a field is longer than %(n)s") % {"n": size_text(csv.field_size_limit())}
    if "NUL" in text:
        return _("it holds a NUL byte, so it is not text")
    if "new-line character" in text:
        return _("its lines end in a lone carriage return: save it with Windows or Unix line ends")
    return _("unbalanced quotes or a stray character")
