"""The PostgreSQL path of an import: COPY into a temporary table, then set-based SQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone

from .locks import hold_references, lock_library_patrons
from .models import Contact, ImportJob, Patron, PostalAddress
from .presets import default_kinds_json
from .rows import STAGE_COLUMNS
from .uploads import ImportRefused, rows_at

if TYPE_CHECKING:
    from .importer import Importer


class PostgresUpsert:
    """COPY into a temporary table, then set-based SQL: duplicates, contacts, patrons, sync.

    Python only parses and validates; everything that compares rows with each other or
    with the database is one statement over the whole file. A second import of the same
    file rewrites nothing: updates are limited to rows that differ, inserts to new cards.
    """

    def __init__(self, importer: Importer):
        self.importer = importer
        self.job = importer.job

    def run(self, stream) -> dict:
        importer, job = self.importer, self.job
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS patron_stage")
            cursor.execute(
                "CREATE TEMP TABLE patron_stage (line integer, pos bigint, card text,"
                " first_name text, last_name text, email text, email_norm text, phone text,"
                " branch_id bigint, category text, expires_on date, language text,"
                " consent text, address text)"
            )
            try:
                with importer.phase("parse, validate and COPY"):
                    self._copy(cursor, importer.rows(stream))
                with transaction.atomic():
                    # Sized for hashing a million rows once, for these statements only.
                    cursor.execute("SET LOCAL work_mem = '64MB'")
                    # Every statement below compares the whole file with the library's
                    # patrons: hashing is right whatever the (possibly stale) statistics
                    # say; a nested loop over the unindexed staging table never is.
                    cursor.execute("SET LOCAL enable_nestloop = off")
                    # Compiling these few statements costs more than it saves.
                    cursor.execute("SET LOCAL jit = off")
                    # Foreign keys checked as each statement ends, not all at commit: the
                    # same work, but counted in the phase that causes it.
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    importer.report(ImportJob.Phase.DEDUPLICATING)
                    with importer.phase("duplicates"):
                        # A temporary table is never analysed by autovacuum. The plans need
                        # only its size and how distinct the cards and emails are: a small
                        # sample of the two join columns tells them (a full ANALYZE of every
                        # column took 0.75 s at 200,000 rows, this one about a tenth).
                        cursor.execute("SET LOCAL default_statistics_target = 10")
                        cursor.execute("ANALYZE patron_stage (card, email_norm)")
                        self._duplicates(cursor, stream)
                    if importer.all_or_nothing_failed():
                        return {"status": ImportJob.Status.REJECTED, "imported": 0, "expired": 0}
                    # One import per library at a time: the split into "update the cards
                    # we have, insert the others" relies on nobody adding cards meanwhile.
                    lock_library_patrons(job.library_id)
                    hold_references(job.library_id, importer.branches.values())
                    importer.report(ImportJob.Phase.WRITING)
                    imported = self._upsert(cursor)
                    expired = 0
                    if job.full_sync:
                        importer.report(ImportJob.Phase.EXPIRING)
                        with importer.phase("expiry sync"):
                            expired = self._expire(cursor)
                return {"status": ImportJob.Status.DONE, "imported": imported, "expired": expired}
            finally:
                cursor.execute("DROP TABLE IF EXISTS patron_stage")

    def _copy(self, cursor, rows: Iterable[tuple]) -> None:
        """Rows go to the server as they are parsed (PostgreSQL stores one batch while
        Python reads the next); one COPY per ``progress_every`` rows, the job's progress
        saved between them (not during a COPY, which holds the connection)."""
        sql = f"COPY patron_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
        every = self.importer.progress_every
        rows = iter(rows)
        # The header is read (and the library's branches queried) before any COPY opens.
        first = next(rows, None)
        if first is None:
            self.importer.save_progress()
            return
        rows = itertools.chain([first], rows)
        while True:
            refused = None
            with cursor.cursor.copy(sql) as copy:
                write = copy.write_row
                count = 0
                try:
                    for row in rows:
                        write(row)
                        count += 1
                        if count == every:
                            break
                except ImportRefused as exc:
                    # The COPY ends cleanly (the staged rows are dropped with the table),
                    # so the refusal is recorded on a connection still in good order.
                    refused = exc
            self.importer.save_progress()
            if refused is not None:
                raise refused
            if count < every:
                return

    def _duplicates(self, cursor, stream) -> None:
        """A card number seen twice: the first row stands, the later ones are problems.

        Grouping finds the (usually no) repeated cards with one hash over the file; only
        their rows are then compared, and quoted from the file for the download.
        """
        cursor.execute(
            "WITH repeated AS (SELECT card FROM patron_stage GROUP BY card HAVING count(*) > 1),"
            " firsts AS (SELECT s.card, min(s.line) AS first FROM patron_stage s"
            "  JOIN repeated r ON r.card = s.card GROUP BY s.card)"
            " DELETE FROM patron_stage s USING firsts f"
            " WHERE s.card = f.card AND s.line > f.first"
            " RETURNING s.line, s.pos, f.first"
        )
        found = cursor.fetchall()
        if not found:
            return
        raws = rows_at(stream, [pos for _line, pos, _first in found])
        for line, pos, first in sorted(found):
            self.importer.duplicate(line, first, raws[pos])

    def _upsert(self, cursor) -> int:
        importer = self.importer
        table = Patron._meta.db_table
        contacts = Contact._meta.db_table
        now = timezone.now()
        source = f"import {self.job.pk}"
        library = self.job.library_id
        with importer.phase("contacts"):
            # Only addresses not yet known (one hash anti-join); an address repeated in
            # the file is skipped by ON CONFLICT, which also covers another library's
            # import adding it meanwhile. No grouping or sorting: the staging table is
            # read in file order, so contact ids follow the patrons' order and the
            # contact index on patrons grows at one end.
            cursor.execute(
                f"INSERT INTO {contacts} (email, language, notice_kinds, created_at)"  # noqa: S608
                " SELECT s.email_norm, '', %s::jsonb, %s FROM patron_stage s"
                " WHERE s.email_norm <> '' AND NOT EXISTS ("
                f"  SELECT 1 FROM {contacts} c WHERE c.email = s.email_norm)"
                " ON CONFLICT (email) DO NOTHING",
                [default_kinds_json(), now],
            )
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {table} WHERE library_id = %s)",  # noqa: S608
            [library],
        )
        if not cursor.fetchone()[0]:
            # A library's first import: nothing to update, no card to look up.
            with importer.phase("patrons: insert new"):
                self._insert(cursor, now, source, existing=False)
            self._addresses(cursor, existing=False)
            return self._count(cursor)
        with importer.phase("patrons: update changed"):
            # Consent: given or withdrawn in the file; left alone where the file says nothing.
            consent_differs = (
                "(s.consent IS NOT NULL AND (s.consent = 'y') <> (p.consent_given_at IS NOT NULL))"
            )
            cursor.execute(
                f"UPDATE {table} p SET"  # noqa: S608
                " first_name = s.first_name, last_name = s.last_name, email = s.email,"
                " phone = s.phone, home_branch_id = s.branch_id, category = s.category,"
                " expires_on = s.expires_on, preferred_language = s.language,"
                " contact_id = s.contact_id, expired_at = NULL, updated_at = %(now)s,"
                f" consent_given_at = CASE WHEN {consent_differs} THEN"
                "  CASE WHEN s.consent = 'y' THEN %(now)s END ELSE p.consent_given_at END,"
                f" consent_source = CASE WHEN {consent_differs} THEN %(source)s"
                "  ELSE p.consent_source END"
                " FROM (SELECT s.card, s.first_name, s.last_name, s.email, s.phone, s.branch_id,"
                "  s.category, s.expires_on, coalesce(nullif(s.language, ''), 'en') AS language,"
                "  s.consent, c.id AS contact_id"
                f"  FROM patron_stage s LEFT JOIN {contacts} c ON c.email = s.email_norm) s"
                " WHERE p.library_id = %(library)s AND p.card_number = s.card AND ("
                "  (p.first_name, p.last_name, p.email, p.phone, p.home_branch_id, p.category,"
                "   p.expires_on, p.preferred_language, p.contact_id, p.expired_at)"
                "  IS DISTINCT FROM (s.first_name, s.last_name, s.email, s.phone, s.branch_id,"
                "   s.category, s.expires_on, s.language, s.contact_id, NULL::timestamptz)"
                f"  OR {consent_differs})",
                {"now": now, "source": source, "library": library},
            )
        with importer.phase("patrons: insert new"):
            self._insert(cursor, now, source, existing=True)
        self._addresses(cursor, existing=True)
        return self._count(cursor)

    def _addresses(self, cursor, existing: bool) -> None:
        """Postal addresses as the file has them: written, changed, or removed where the
        row's address is empty. A file without address columns (staged NULL) leaves them
        alone; a second import of the same file rewrites none."""
        if not self.importer.has_address:
            return
        table, addresses = Patron._meta.db_table, PostalAddress._meta.db_table
        args = {"library": self.job.library_id}
        matched = (
            f" FROM patron_stage s JOIN {table} p"
            " ON p.library_id = %(library)s AND p.card_number = s.card"
        )
        with self.importer.phase("postal addresses"):
            if not existing:
                cursor.execute(
                    f"INSERT INTO {addresses} (patron_id, lines)"
                    f" SELECT p.id, s.address{matched} WHERE s.address <> ''",
                    args,
                )
                return
            # One pass over the file finds what differs; the three writes touch disjoint
            # rows (remove where the file has none, change, add where none is on record).
            cursor.execute(
                "WITH differ AS ("  # noqa: S608
                f" SELECT p.id, s.address, a.lines AS current{matched}"
                f" LEFT JOIN {addresses} a ON a.patron_id = p.id"
                " WHERE s.address IS NOT NULL AND s.address <> coalesce(a.lines, '')),"
                f" removed AS (DELETE FROM {addresses} a USING differ d"
                "  WHERE a.patron_id = d.id AND d.address = ''),"
                f" changed AS (UPDATE {addresses} a SET lines = d.address FROM differ d"
                "  WHERE a.patron_id = d.id AND d.address <> '' AND d.current IS NOT NULL)"
                f" INSERT INTO {addresses} (patron_id, lines) SELECT d.id, d.address"
                " FROM differ d WHERE d.address <> '' AND d.current IS NULL",
                args,
            )

    def _insert(self, cursor, now, source: str, existing: bool) -> None:
        """New cards, in file order; ``existing=False`` when the library has none yet."""
        table, contacts = Patron._meta.db_table, Contact._meta.db_table
        new_only = (
            f" WHERE NOT EXISTS (SELECT 1 FROM {table} p"  # noqa: S608
            "  WHERE p.library_id = %(library)s AND p.card_number = s.card)"
            if existing
            else ""
        )
        cursor.execute(
            f"INSERT INTO {table} (library_id, card_number, first_name, last_name, email,"  # noqa: S608
            " phone, home_branch_id, category, expires_on, preferred_language, contact_id,"
            " consent_given_at, consent_source, suppression, created_at, updated_at)"
            " SELECT %(library)s, s.card, s.first_name, s.last_name, s.email, s.phone,"
            " s.branch_id, s.category, s.expires_on, coalesce(nullif(s.language, ''), 'en'),"
            " c.id, CASE WHEN s.consent = 'y' THEN %(now)s END,"
            " CASE WHEN s.consent = 'y' THEN %(source)s ELSE '' END, '', %(now)s, %(now)s"
            f" FROM patron_stage s LEFT JOIN {contacts} c ON c.email = s.email_norm{new_only}"
            " ORDER BY s.line",
            {"now": now, "source": source, "library": self.job.library_id},
        )

    @staticmethod
    def _count(cursor) -> int:
        cursor.execute("SELECT count(*) FROM patron_stage")
        return cursor.fetchone()[0]

    def _expire(self, cursor) -> int:
        table = Patron._meta.db_table
        cursor.execute(
            f"UPDATE {table} p SET expired_at = %s WHERE p.library_id = %s"  # noqa: S608
            " AND p.expired_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM patron_stage s WHERE s.card = p.card_number)",
            [timezone.now(), self.job.library_id],
        )
        return cursor.rowcount
