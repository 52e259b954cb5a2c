"""The PostgreSQL path of an import: COPY into a temporary table, then set-based SQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from .locks import hold_references, lock_library_patrons
from .models import Contact, ImportJob, Patron, PostalAddress
from .presets import default_kinds_json
from .rows import STAGE_COLUMNS
from .uploads import ImportRefused, rows_at

if TYPE_CHECKING:
    from .importer import Importer


DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for a deadlock it broke by failing a statement
# Tries of the contacts' insert: plain, then with ON CONFLICT while two imports adding the
# same new addresses in different orders keep deadlocking (each time one of them goes
# through; the other undoes its statement and tries again).
CONTACT_ATTEMPTS = 10

# The staging table: STAGE_COLUMNS with their types. Rows go in as COPY's binary format
# (each value sent as its type's bytes, which neither side has to escape or parse: a
# fifth less of the staging COPY's CPU, a half less of Python's share of it).
STAGE_TYPES = {
    name: {"line": "integer", "pos": "bigint", "branch_id": "bigint", "expires_on": "date"}.get(
        name, "text"
    )
    for name in STAGE_COLUMNS
}


class PostgresUpsert:
    """COPY into a temporary table, then set-based SQL: duplicates, contacts, patrons, sync.

    Python only parses and validates; everything that compares rows with each other or
    with the database is one statement over the whole file. A second import of the same
    file rewrites nothing: updates are limited to rows that differ, inserts to new cards.
    """

    def __init__(self, importer: Importer):
        self.importer = importer
        self.job = importer.job
        self.diffed = False  # whether patron_diff was made (a re-import)
        # Whether the staged rows carry the ids their patrons will have (a first import).
        self.ids_staged = False
        # Whether every staged card sorts after the one before it (see _copy).
        self.cards_ascend = False

    def run(self, stream) -> dict:
        importer, job = self.importer, self.job
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS patron_stage")
            columns = ", ".join(f"{name} {kind}" for name, kind in STAGE_TYPES.items())
            # A library with no patrons yet: each staged row takes its patron's id as it
            # arrives (the patron insert would call the same sequence), so the addresses
            # are written from the staging table without joining the new patrons back.
            # Checked again under the library's lock before writing (see _upsert).
            self.ids_staged = not self._has_patrons(cursor)
            if self.ids_staged:
                columns += f", {self._patron_ids(cursor)}"
            cursor.execute(f"CREATE TEMP TABLE patron_stage ({columns})")
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
                        if not self.cards_ascend:
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
        saved between them (not during a COPY, which holds the connection).

        On the way it notes whether the cards ascend, shorter before longer and alike
        lengths in byte order (an export sorted by card number): a card that sorts after
        every card before it cannot repeat one, so such a file needs no search for
        repeated cards, which costs a hash over the whole file."""
        sql = f"COPY patron_stage ({', '.join(STAGE_TYPES)}) FROM STDIN (FORMAT BINARY)"
        types = list(STAGE_TYPES.values())
        every = self.importer.progress_every
        rows = iter(rows)
        # The header is read (and the library's branches queried) before any COPY opens.
        first = next(rows, None)
        if first is None:
            self.importer.save_progress()
            return
        rows = itertools.chain([first], rows)
        ascending, last = True, (0, "")
        while True:
            refused = None
            with cursor.cursor.copy(sql) as copy:
                copy.set_types(types)
                write = copy.write_row
                count = 0
                try:
                    for row in rows:
                        write(row)
                        if ascending:
                            card = row[2]
                            key = (len(card), card)
                            ascending = key > last
                            last = key
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
                self.cards_ascend = ascending
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
        now = timezone.now()
        source = f"import {self.job.pk}"
        with importer.phase("contacts"):
            self._contacts(cursor, now)
        if not self._has_patrons(cursor):
            # A library's first import: nothing to update, no card to look up.
            if not self.ids_staged:
                # Its patrons came and went between staging and the lock: take the ids now.
                cursor.execute(f"ALTER TABLE patron_stage ADD COLUMN {self._patron_ids(cursor)}")
                self.ids_staged = True
            with importer.phase("patrons: insert new"):
                self._insert(cursor, now, source, existing=False)
            self._addresses(cursor, existing=False)
            return self._count(cursor)
        with importer.phase("patrons: find what differs"):
            self._differences(cursor)
        # The statements below read the (usually few) rows that differ and reach the
        # patrons and contacts through their indexes: a nested loop is right here.
        cursor.execute("SET LOCAL enable_nestloop = on")
        with importer.phase("patrons: update changed"):
            self._update(cursor, now, source)
        with importer.phase("patrons: insert new"):
            self._insert(cursor, now, source, existing=True)
        self._addresses(cursor, existing=True)
        cursor.execute("SET LOCAL enable_nestloop = off")
        return self._count(cursor)

    def _has_patrons(self, cursor) -> bool:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {Patron._meta.db_table} WHERE library_id = %s)",  # noqa: S608
            [self.job.library_id],
        )
        return cursor.fetchone()[0]

    @staticmethod
    def _patron_ids(cursor) -> str:
        """The staging column that takes each row's patron id from the patrons' sequence."""
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, 'id')::regclass::oid", [Patron._meta.db_table]
        )
        sequence = int(cursor.fetchone()[0])
        return f"patron_id bigint DEFAULT nextval({sequence}::regclass)"

    def _contacts(self, cursor, now) -> None:
        """The file's addresses not yet known, each once, in the order of their first
        rows: contact ids follow the patrons' order, so the contact index on patrons grows
        at one end (contacts in address order made that index's insertions cost more than
        they saved on the address index's).

        A plain insert, with an address repeated in the file left to its first row, costs
        less than ``ON CONFLICT DO NOTHING``, which tries the index before and after each
        row. It fails only when another writer (another library's import, the sync API)
        added one of these addresses since the contacts were read, or when two imports
        wait for each other's new addresses (PostgreSQL then fails one's statement); the
        statement is then undone to its savepoint and run again with ``ON CONFLICT``,
        which takes the other writer's contacts (see CONTACT_ATTEMPTS).
        """
        contacts = Contact._meta.db_table
        new = (
            f"INSERT INTO {contacts} (email, language, notice_kinds, created_at)"  # noqa: S608
            " SELECT n.email, '', %s::jsonb, %s FROM ("
            "  SELECT s.email_norm AS email, min(s.line) AS line FROM patron_stage s"
            "  WHERE s.email_norm <> '' AND NOT EXISTS ("
            f"   SELECT 1 FROM {contacts} c WHERE c.email = s.email_norm)"
            "  GROUP BY s.email_norm) n"
            " ORDER BY n.line"
        )
        args = [default_kinds_json(), now]
        for attempt in range(CONTACT_ATTEMPTS):
            try:
                with transaction.atomic():
                    conflict = " ON CONFLICT (email) DO NOTHING" if attempt else ""
                    cursor.execute(new + conflict, args)
                return
            except (IntegrityError, OperationalError) as exc:
                diag = getattr(exc.__cause__, "diag", None)
                taken = getattr(diag, "constraint_name", None) == "one_contact_per_email"
                deadlock = getattr(diag, "sqlstate", None) == DEADLOCK
                if not (taken or deadlock) or attempt == CONTACT_ATTEMPTS - 1:
                    raise

    # What a re-import compares: the patron's columns against the staged row's. A row
    # also differs when its contact is missing or left over (see _update), or when the
    # file gives or withdraws consent.
    PATRON_COLUMNS = (
        "p.first_name, p.last_name, p.email, p.phone, p.home_branch_id, p.category,"
        " p.expires_on, p.preferred_language, p.expired_at"
    )
    STAGED_COLUMNS = (
        "s.first_name, s.last_name, s.email, s.phone, s.branch_id, s.category, s.expires_on,"
        " coalesce(nullif(s.language, ''), 'en'), NULL::timestamptz"
    )

    @staticmethod
    def consent_differs(row: str) -> str:
        return (
            f"({row}.consent IS NOT NULL"
            f" AND ({row}.consent = 'y') <> (p.consent_given_at IS NOT NULL))"
        )

    def _differences(self, cursor) -> None:
        """One pass over the file, the library's patrons and their addresses: the rows that
        are new or differ from the patron or the address on record, and for a full sync
        the patrons the file no longer lists (``card`` NULL), into ``patron_diff``. A
        second import of the same file finds none, and the writes after it read only
        these rows rather than each joining the whole file to the patrons again."""
        table, addresses = Patron._meta.db_table, PostalAddress._meta.db_table
        self.diffed = True
        patron_differs = (
            f"(s.card IS NOT NULL AND (({self.PATRON_COLUMNS})"
            f" IS DISTINCT FROM ({self.STAGED_COLUMNS})"
            " OR (p.contact_id IS NULL) = (s.email_norm <> '')"
            f" OR {self.consent_differs('s')}))"
        )
        address_differs = "(s.address IS NOT NULL AND s.address <> coalesce(a.lines, ''))"
        cursor.execute("DROP TABLE IF EXISTS patron_diff")
        cursor.execute(
            "CREATE TEMP TABLE patron_diff ON COMMIT DROP AS"  # noqa: S608
            " SELECT s.line, s.card, s.first_name, s.last_name, s.email, s.email_norm,"
            " s.phone, s.branch_id, s.category, s.expires_on,"
            " coalesce(nullif(s.language, ''), 'en') AS language, s.consent, s.address,"
            f" p.id AS patron_id, p.id IS NOT NULL AND {patron_differs} AS patron_differs,"
            f" {address_differs} AS address_differs, a.patron_id IS NOT NULL AS has_address"
            # A full sync also keeps the patrons missing from the file, for _expire.
            f" FROM patron_stage s {'FULL' if self.job.full_sync else 'LEFT'} JOIN"
            f" (SELECT * FROM {table} WHERE library_id = %(library)s) p"
            "  ON p.card_number = s.card"
            f" LEFT JOIN {addresses} a ON a.patron_id = p.id"
            f" WHERE p.id IS NULL OR {patron_differs} OR {address_differs}"
            "  OR (s.card IS NULL AND p.expired_at IS NULL)",
            {"library": self.job.library_id},
        )
        cursor.execute("ANALYZE patron_diff")

    def _update(self, cursor, now, source: str) -> None:
        """The patrons whose row differs, as the file has them.

        A patron's contact is the one of its email, lower-cased, or none without an
        email: every writer keeps it so, contacts never change address and only those
        without patrons are purged. With the email unchanged the contact can differ only
        by being missing or left over, which ``_differences`` compares; each updated row
        looks its contact up by the unique email index."""
        table, contacts = Patron._meta.db_table, Contact._meta.db_table
        consent = self.consent_differs("d")
        cursor.execute(
            f"UPDATE {table} p SET"  # noqa: S608
            " first_name = d.first_name, last_name = d.last_name, email = d.email,"
            " phone = d.phone, home_branch_id = d.branch_id, category = d.category,"
            " expires_on = d.expires_on, preferred_language = d.language,"
            " contact_id = CASE WHEN d.email_norm <> '' THEN"
            f"  (SELECT c.id FROM {contacts} c WHERE c.email = d.email_norm) END,"
            " expired_at = NULL, updated_at = %(now)s,"
            # Consent: given or withdrawn in the file; left alone where it says nothing.
            f" consent_given_at = CASE WHEN {consent} THEN"
            "  CASE WHEN d.consent = 'y' THEN %(now)s END ELSE p.consent_given_at END,"
            f" consent_source = CASE WHEN {consent} THEN %(source)s"
            "  ELSE p.consent_source END"
            " FROM patron_diff d WHERE p.id = d.patron_id AND d.patron_differs",
            {"now": now, "source": source},
        )

    def _addresses(self, cursor, existing: bool) -> None:
        """Postal addresses as the file has them: written, changed, or removed where the
        row's address is empty. A file without address columns (staged NULL) leaves them
        alone; a second import of the same file rewrites none."""
        if not self.importer.has_address:
            return
        table, addresses = Patron._meta.db_table, PostalAddress._meta.db_table
        args = {"library": self.job.library_id}
        with self.importer.phase("postal addresses"):
            if not existing:
                # Each staged row holds its new patron's id (see run).
                cursor.execute(
                    f"INSERT INTO {addresses} (patron_id, lines)"  # noqa: S608
                    " SELECT s.patron_id, s.address FROM patron_stage s WHERE s.address <> ''"
                )
                return
            # Only the rows that differ, each touching its own address: removed where the
            # file has none, changed, or added (for a patron just inserted too).
            cursor.execute(
                f"DELETE FROM {addresses} a USING patron_diff d"  # noqa: S608
                " WHERE a.patron_id = d.patron_id AND d.address_differs AND d.address = ''"
            )
            cursor.execute(
                f"UPDATE {addresses} a SET lines = d.address FROM patron_diff d"  # noqa: S608
                " WHERE a.patron_id = d.patron_id AND d.address_differs AND d.address <> ''"
            )
            cursor.execute(
                f"INSERT INTO {addresses} (patron_id, lines)"  # noqa: S608
                " SELECT coalesce(d.patron_id, p.id), d.address FROM patron_diff d"
                f" LEFT JOIN {table} p ON d.patron_id IS NULL"
                "  AND p.library_id = %(library)s AND p.card_number = d.card"
                " WHERE d.address_differs AND d.address <> '' AND NOT d.has_address",
                args,
            )

    def _insert(self, cursor, now, source: str, existing: bool) -> None:
        """New cards, in file order: every staged row when the library has none yet
        (``existing=False``), else the rows ``_differences`` found no patron for."""
        table, contacts = Patron._meta.db_table, Contact._meta.db_table
        rows = "patron_diff s" if existing else "patron_stage s"
        new_only = " WHERE s.patron_id IS NULL" if existing else ""
        # A first import's rows carry their patron's id (see run); new cards in a
        # re-import take theirs from the sequence.
        ids = ("", "") if existing else ("id, ", "s.patron_id, ")
        cursor.execute(
            f"INSERT INTO {table} ({ids[0]}library_id, card_number, first_name, last_name,"  # noqa: S608
            " email, phone, home_branch_id, category, expires_on, preferred_language,"
            " contact_id, consent_given_at, consent_source, suppression, created_at, updated_at)"
            f" SELECT {ids[1]}%(library)s, s.card, s.first_name, s.last_name, s.email, s.phone,"
            " s.branch_id, s.category, s.expires_on, coalesce(nullif(s.language, ''), 'en'),"
            " c.id, CASE WHEN s.consent = 'y' THEN %(now)s END,"
            " CASE WHEN s.consent = 'y' THEN %(source)s ELSE '' END, '', %(now)s, %(now)s"
            f" FROM {rows} LEFT JOIN {contacts} c ON c.email = s.email_norm{new_only}"
            " ORDER BY s.line",
            {"now": now, "source": source, "library": self.job.library_id},
        )

    @staticmethod
    def _count(cursor) -> int:
        cursor.execute("SELECT count(*) FROM patron_stage")
        return cursor.fetchone()[0]

    def _expire(self, cursor) -> int:
        """Expire the patrons the file no longer lists, as ``_differences`` found them.
        A library's first import has none: every patron it has came from the file."""
        if not self.diffed:
            return 0
        table = Patron._meta.db_table
        cursor.execute(
            f"UPDATE {table} p SET expired_at = %s FROM patron_diff d"  # noqa: S608
            " WHERE p.id = d.patron_id AND d.card IS NULL",
            [timezone.now()],
        )
        return cursor.rowcount
