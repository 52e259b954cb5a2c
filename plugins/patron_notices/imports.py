"""Streaming patron import: column presets, row validation, and the upsert.

The file is read line by line and each row validated in Python (email syntax, dates,
branch codes, encoding); valid rows are streamed with COPY into a temporary table, where
PostgreSQL finds duplicate card numbers and upserts everything with one
``INSERT ... ON CONFLICT`` — memory stays flat whatever the file's size. Problems name the
file line and column, never the patron's data (the raw row is kept only for the download).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.members.models import MemberLibrary

from .models import Contact, ImportJob, ImportProblem, Patron

BATCH = 20_000

# Target fields of a patron row, in the order the staging table holds them.
FIELDS = (
    "card_number",
    "first_name",
    "last_name",
    "email",
    "phone",
    "branch",
    "category",
    "expires_on",
    "language",
    "consent",
)

# Each preset maps a target field to the file columns that can fill it, first found wins.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    # Koha's patron import/export (tools/import_borrowers, the borrowers table's columns).
    "koha": {
        "card_number": ("cardnumber",),
        "first_name": ("firstname",),
        "last_name": ("surname",),
        "email": ("email",),
        "phone": ("mobile", "smsalertnumber", "phone"),
        "branch": ("branchcode",),
        "category": ("categorycode",),
        "expires_on": ("dateexpiry",),
        "language": ("lang",),
        "consent": ("patron_attributes",),
    },
    # Evergreen's migration staging tables (migration-tools' patron staging columns).
    "evergreen": {
        "card_number": ("barcode", "cardnumber"),
        "first_name": ("first_given_name", "first_name"),
        "last_name": ("family_name", "last_name"),
        "email": ("email",),
        "phone": ("day_phone", "evening_phone", "other_phone"),
        "branch": ("home_library", "home_ou"),
        "category": ("profile",),
        "expires_on": ("expire_date",),
        "language": ("locale", "language"),
        "consent": ("consent",),
    },
    "generic": {
        "card_number": ("card_number", "card", "barcode", "cardnumber"),
        "first_name": ("first_name", "firstname", "given_name"),
        "last_name": ("last_name", "surname", "family_name"),
        "email": ("email", "email_address"),
        "phone": ("phone", "mobile", "telephone"),
        "branch": ("branch", "branchcode", "home_branch", "library"),
        "category": ("category", "patron_category", "categorycode"),
        "expires_on": ("expires", "expiry", "expires_on", "dateexpiry"),
        "language": ("language", "lang", "locale"),
        "consent": ("consent", "notices"),
    },
}
PRESET_CHOICES = [
    ("koha", "Koha"),
    ("evergreen", "Evergreen"),
    ("generic", _("Generic CSV")),
]
# Koha keeps consent in an extended attribute, ``CODE:value,CODE:value``.
CONSENT_ATTRIBUTE = "NOTICES"
YES = {"1", "y", "yes", "true", "oui", "si", "sí"}
NO = {"0", "n", "no", "false", "non"}

# Deliberately simple: one @, no spaces, a dot in the domain. The SMTP server is the judge.
EMAIL = re.compile(r"^[^@\s,;<>\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?$")


def decoded_lines(stream, on_latin1) -> Iterator[str]:
    """Lines of a byte stream as text: UTF-8 (a leading BOM dropped), else Latin-1.

    Decided per line, so one bad line from a badly converted export does not throw the
    whole file into the wrong encoding; ``on_latin1(line_number)`` hears of each fallback.
    """
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            on_latin1(number)
            yield raw.decode("latin-1")


def read_header(stream) -> list[str]:
    """The header row of an uploaded file (first non-blank line)."""
    reader = csv.reader(decoded_lines(stream, lambda n: None))
    for row in reader:
        if any(cell.strip() for cell in row):
            return [cell.strip() for cell in row]
    return []


def mapping_for(preset: str, header: list[str]) -> dict[str, str]:
    """``{field: column}`` the preset finds in ``header``."""
    lower = {h.lower(): h for h in header}
    found = {}
    for target, candidates in PRESETS.get(preset, PRESETS["generic"]).items():
        for candidate in candidates:
            if candidate in lower:
                found[target] = lower[candidate]
                break
    return found


@dataclass
class Problem:
    line: int
    column: str
    code: str
    message: str
    raw: str = ""


@dataclass
class Stats:
    rows: int = 0
    valid: int = 0
    problems: int = 0
    latin1_lines: list[int] = field(default_factory=list)


def _consent(value: str, from_attributes: bool) -> str | None:
    """``"y"``/``"n"`` when the file says, None when it does not."""
    if from_attributes:
        for pair in value.split(","):
            code, _sep, attr = pair.partition(":")
            if code.strip().upper() == CONSENT_ATTRIBUTE:
                value = attr
                break
        else:
            return None
    value = value.strip().lower()
    if value in YES:
        return "y"
    if value in NO:
        return "n"
    return None


class RowChecker:
    """Turns a CSV row into a staging row or problems."""

    def __init__(self, header: list[str], mapping: dict[str, str], branches: dict[str, int]):
        self.index = {}
        for target, column in mapping.items():
            if column in header:
                self.index[target] = (header.index(column), column)
        self.branches = branches
        self.width = len(header)
        self.consent_from_attributes = mapping.get("consent") == "patron_attributes"

    def missing_required(self) -> list[str]:
        return [f for f in ("card_number",) if f not in self.index]

    def get(self, row, target) -> str:
        spot = self.index.get(target)
        if spot is None or spot[0] >= len(row):
            return ""
        return row[spot[0]].strip()

    def column(self, target) -> str:
        spot = self.index.get(target)
        return spot[1] if spot else target

    def check(self, line: int, row: list[str]) -> tuple[tuple | None, list[Problem]]:
        problems = []
        card = self.get(row, "card_number")
        if not card:
            problems.append(
                Problem(line, self.column("card_number"), "card_missing", _("No card number."))
            )
        elif len(card) > 32:
            problems.append(
                Problem(
                    line, self.column("card_number"), "card_too_long", _("Card number too long.")
                )
            )
        email = self.get(row, "email")
        if email and (len(email) > 254 or not EMAIL.match(email)):
            problems.append(
                Problem(line, self.column("email"), "email_invalid", _("Not an email address."))
            )
        branch_code = self.get(row, "branch")
        branch_id = None
        if branch_code:
            branch_id = self.branches.get(branch_code.lower())
            if branch_id is None:
                problems.append(
                    Problem(
                        line,
                        self.column("branch"),
                        "branch_unknown",
                        _("No branch of this library has that code."),
                    )
                )
        expires = self.get(row, "expires_on")
        expires_on = None
        if expires:
            try:
                expires_on = date.fromisoformat(expires[:10])
            except ValueError:
                problems.append(
                    Problem(
                        line,
                        self.column("expires_on"),
                        "date_invalid",
                        _("Not a date (YYYY-MM-DD)."),
                    )
                )
        language = self.get(row, "language").lower()
        if language and not LANGUAGE.match(language):
            language = ""  # an ILS code we do not know is not worth refusing the row for
        if problems:
            return None, problems
        return (
            line,
            card,
            self.get(row, "first_name")[:100],
            self.get(row, "last_name")[:100],
            email,
            email.lower(),
            self.get(row, "phone")[:40],
            branch_id,
            self.get(row, "category")[:40],
            expires_on,
            language[:8],
            _consent(self.get(row, "consent"), self.consent_from_attributes),
        ), []


def branch_codes(library: MemberLibrary) -> dict[str, int]:
    """Codes of the library and every branch below it (lower-cased) -> id."""
    return {
        code.lower(): pk
        for pk, code in MemberLibrary.objects.filter(path__startswith=library.path).values_list(
            "pk", "code"
        )
    }


class Importer:
    """Runs one ImportJob. Progress is saved as it goes; the patron table changes at the end."""

    def __init__(self, job: ImportJob, progress_every: int = 50_000):
        self.job = job
        self.progress_every = progress_every
        self.stats = Stats()
        self._problems: list[ImportProblem] = []
        self.mapping: dict[str, str] = dict(job.mapping or {})

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

    def flush_problems(self) -> None:
        ImportProblem.objects.bulk_create(self._problems, batch_size=1000)
        self._problems = []

    # -- reading -------------------------------------------------------------------------
    def rows(self, stream) -> Iterator[tuple]:
        """Valid staging rows; problems recorded on the way."""
        job = self.job
        lines = decoded_lines(stream, self.stats.latin1_lines.append)
        reader = csv.reader(lines)
        header = None
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines are not rows
            if header is None:
                header = [cell.strip() for cell in row]
                mapping = job.mapping or mapping_for(job.preset, header)
                self.mapping = mapping
                checker = RowChecker(header, mapping, branch_codes(job.library))
                missing = checker.missing_required()
                if missing:
                    raise ImportRefused(_("The file has no card number column."))
                continue
            self.stats.rows += 1
            line = reader.line_num
            staged, problems = checker.check(line, row)
            if problems:
                raw = _csv_line(row)
                for p in problems:
                    p.raw = raw
                    self.problem(p)
                continue
            self.stats.valid += 1
            yield staged
        if header is None:
            raise ImportRefused(_("The file is empty."))

    def save_progress(self, stream) -> None:
        self.flush_problems()
        position = stream.tell() if hasattr(stream, "tell") else 0
        ImportJob.objects.filter(pk=self.job.pk).update(
            bytes_read=position, rows_read=self.stats.rows, rows_invalid=self.stats.problems
        )

    # -- running -------------------------------------------------------------------------
    def run(self) -> ImportJob:
        job = self.job
        job.status = ImportJob.Status.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at"])
        ImportProblem.objects.filter(job=job).delete()
        try:
            with job.file.open("rb") as stream:
                if connection.vendor == "postgresql":
                    outcome = PostgresUpsert(self).run(stream)
                else:
                    outcome = OrmUpsert(self).run(stream)
        except ImportRefused as exc:
            self.flush_problems()
            return self.finish(ImportJob.Status.REJECTED, error=str(exc))
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
        job.save()
        return job

    def all_or_nothing_failed(self) -> bool:
        return self.job.mode == ImportJob.Mode.ALL_OR_NOTHING and self.stats.problems > 0


class ImportRefused(Exception):
    """The file as a whole cannot be imported (no card number column, empty)."""


def _csv_line(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue().rstrip("\r\n")


STAGE_COLUMNS = (
    "line",
    "card",
    "first_name",
    "last_name",
    "email",
    "email_norm",
    "phone",
    "branch_id",
    "category",
    "expires_on",
    "language",
    "consent",
)


class PostgresUpsert:
    """COPY into a temporary table, find duplicates there, upsert with ON CONFLICT."""

    def __init__(self, importer: Importer):
        self.importer = importer
        self.job = importer.job

    def run(self, stream) -> dict:
        importer, job = self.importer, self.job
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS patron_stage")
            cursor.execute(
                "CREATE TEMP TABLE patron_stage (line integer, card text, first_name text,"
                " last_name text, email text, email_norm text, phone text, branch_id bigint,"
                " category text, expires_on date, language text, consent text)"
            )
            try:
                self._copy(cursor, importer.rows(stream), stream)
                self._duplicates(cursor)
                if importer.all_or_nothing_failed():
                    return {"status": ImportJob.Status.REJECTED, "imported": 0, "expired": 0}
                with transaction.atomic():
                    imported = self._upsert(cursor)
                    expired = self._expire(cursor) if job.full_sync else 0
                return {"status": ImportJob.Status.DONE, "imported": imported, "expired": expired}
            finally:
                cursor.execute("DROP TABLE IF EXISTS patron_stage")

    def _copy(self, cursor, rows: Iterable[tuple], stream) -> None:
        """One COPY per batch: the job's progress is saved between them (not during a COPY,
        which holds the connection)."""
        sql = f"COPY patron_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN (FORMAT csv)"
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def flush():
            with cursor.cursor.copy(sql) as copy:
                copy.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
            self.importer.save_progress(stream)

        for count, row in enumerate(rows, start=1):
            writer.writerow(row)
            if count % self.importer.progress_every == 0:
                flush()
        flush()

    def _duplicates(self, cursor) -> None:
        """A card number seen twice: the first row stands, the later ones are problems."""
        cursor.execute("CREATE INDEX ON patron_stage (card, line)")
        cursor.execute(
            "DELETE FROM patron_stage s USING ("
            "  SELECT line, card, first_value(line) OVER (PARTITION BY card ORDER BY line) AS first"
            "  FROM patron_stage) d"
            " WHERE s.line = d.line AND d.line <> d.first"
            " RETURNING s.line, d.first"
        )
        for line, first in cursor.fetchall():
            self.importer.problem(
                Problem(
                    line,
                    self.importer_column("card_number"),
                    "card_duplicate",
                    _("Card number already on line %(line)d.") % {"line": first},
                )
            )

    def importer_column(self, target) -> str:
        return self.importer.mapping.get(target, target)

    def _upsert(self, cursor) -> int:
        table = Patron._meta.db_table
        contacts = Contact._meta.db_table
        now = timezone.now()
        source = f"import {self.job.pk}"
        cursor.execute(
            f"INSERT INTO {contacts} (email, language, notice_kinds, created_at)"  # noqa: S608
            " SELECT DISTINCT email_norm, '', %s::jsonb, %s FROM patron_stage"
            " WHERE email_norm <> ''"
            " ON CONFLICT (email) DO NOTHING",
            [_json_kinds(), now],
        )
        cursor.execute(
            f"INSERT INTO {table} AS p (library_id, card_number, first_name, last_name, email,"  # noqa: S608
            " phone, home_branch_id, category, expires_on, preferred_language, contact_id,"
            " consent_given_at, consent_source, suppression, created_at, updated_at)"
            " SELECT %s, s.card, coalesce(s.first_name, ''), coalesce(s.last_name, ''),"
            " coalesce(s.email, ''), coalesce(s.phone, ''), s.branch_id, coalesce(s.category, ''),"
            " s.expires_on, coalesce(nullif(s.language, ''), 'en'), c.id,"
            " CASE WHEN s.consent = 'y' THEN %s END,"
            " CASE WHEN s.consent = 'y' THEN %s ELSE '' END, '', %s, %s"
            f" FROM patron_stage s LEFT JOIN {contacts} c ON c.email = s.email_norm"
            " ON CONFLICT (library_id, card_number) DO UPDATE SET"
            " first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,"
            " email = EXCLUDED.email, phone = EXCLUDED.phone,"
            " home_branch_id = EXCLUDED.home_branch_id, category = EXCLUDED.category,"
            " expires_on = EXCLUDED.expires_on, preferred_language = EXCLUDED.preferred_language,"
            " contact_id = EXCLUDED.contact_id, expired_at = NULL, updated_at = EXCLUDED.updated_at"
            # A row that has not changed is not rewritten: a second import is mostly reads.
            " WHERE (p.first_name, p.last_name, p.email, p.phone, p.home_branch_id, p.category,"
            " p.expires_on, p.preferred_language, p.contact_id, p.expired_at) IS DISTINCT FROM"
            " (EXCLUDED.first_name, EXCLUDED.last_name, EXCLUDED.email, EXCLUDED.phone,"
            " EXCLUDED.home_branch_id, EXCLUDED.category, EXCLUDED.expires_on,"
            " EXCLUDED.preferred_language, EXCLUDED.contact_id, NULL::timestamptz)",
            [self.job.library_id, now, source, now, now],
        )
        # Consent given or withdrawn in the file; left alone where the file says nothing.
        cursor.execute(
            f"UPDATE {table} p SET"  # noqa: S608
            " consent_given_at = CASE WHEN s.consent = 'y' THEN coalesce(p.consent_given_at, %s)"
            " END, consent_source = CASE WHEN s.consent = 'y' THEN"
            " CASE WHEN p.consent_given_at IS NULL THEN %s ELSE p.consent_source END ELSE %s END"
            " FROM patron_stage s WHERE p.library_id = %s AND p.card_number = s.card"
            " AND s.consent IS NOT NULL"
            " AND (s.consent = 'y') IS DISTINCT FROM (p.consent_given_at IS NOT NULL)",
            [now, source, source, self.job.library_id],
        )
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


def _json_kinds() -> str:
    import json

    from .models import notice_kinds_default

    return json.dumps(notice_kinds_default())


class OrmUpsert:
    """The embedded default's path (SQLite): bulk_create with update_conflicts.

    Duplicates are found with an in-memory map of card numbers, which is fine for the
    demo's files; PostgreSQL deployments take the streaming path above.
    """

    def __init__(self, importer: Importer):
        self.importer = importer
        self.job = importer.job

    def run(self, stream) -> dict:
        importer, job = self.importer, self.job
        seen: dict[str, int] = {}
        staged = []
        for row in importer.rows(stream):
            card = row[1]
            if card in seen:
                importer.problem(
                    Problem(
                        row[0],
                        importer.mapping.get("card_number", "card_number"),
                        "card_duplicate",
                        _("Card number already on line %(line)d.") % {"line": seen[card]},
                    )
                )
                continue
            seen[card] = row[0]
            staged.append(row)
        if importer.all_or_nothing_failed():
            return {"status": ImportJob.Status.REJECTED, "imported": 0, "expired": 0}
        now = timezone.now()
        with transaction.atomic():
            emails = {r[5] for r in staged if r[5]}
            Contact.objects.bulk_create(
                [Contact(email=e) for e in emails], ignore_conflicts=True, batch_size=1000
            )
            contact_ids = dict(Contact.objects.filter(email__in=emails).values_list("email", "pk"))
            existing = {
                p.card_number: p
                for p in Patron.objects.filter(library=job.library, card_number__in=seen)
            }
            patrons = []
            for (
                _line,
                card,
                first,
                last,
                email,
                norm,
                phone,
                branch_id,
                category,
                expires,
                language,
                consent,
            ) in staged:
                old = existing.get(card)
                consent_at = old.consent_given_at if old else None
                consent_source = old.consent_source if old else ""
                if consent == "y" and consent_at is None:
                    consent_at, consent_source = now, f"import {job.pk}"
                elif consent == "n":
                    consent_at, consent_source = None, f"import {job.pk}"
                patrons.append(
                    Patron(
                        library=job.library,
                        card_number=card,
                        first_name=first,
                        last_name=last,
                        email=email,
                        phone=phone,
                        home_branch_id=branch_id,
                        category=category,
                        expires_on=expires,
                        preferred_language=language or "en",
                        contact_id=contact_ids.get(norm),
                        consent_given_at=consent_at,
                        consent_source=consent_source,
                        expired_at=None,
                        updated_at=now,
                    )
                )
            Patron.objects.bulk_create(
                patrons,
                update_conflicts=True,
                unique_fields=["library", "card_number"],
                update_fields=[
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "home_branch",
                    "category",
                    "expires_on",
                    "preferred_language",
                    "contact",
                    "consent_given_at",
                    "consent_source",
                    "expired_at",
                    "updated_at",
                ],
                batch_size=1000,
            )
            expired = 0
            if job.full_sync:
                expired = (
                    Patron.objects.filter(library=job.library, expired_at__isnull=True)
                    .exclude(card_number__in=seen)
                    .update(expired_at=now)
                )
        return {"status": ImportJob.Status.DONE, "imported": len(patrons), "expired": expired}


def link_contacts(library_ids: list[int] | None = None) -> None:
    """Give patrons without one their contact (by normalised email), creating contacts.

    Plain SQL that PostgreSQL and SQLite both run, for rows written without the importer
    (the demo seeder's COPY).
    """
    patrons, contacts = Patron._meta.db_table, Contact._meta.db_table
    ids = ",".join(str(int(i)) for i in library_ids or [])
    where = f" AND library_id IN ({ids})" if ids else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {contacts} (email, language, notice_kinds, created_at)"  # noqa: S608
            f" SELECT DISTINCT lower(email), '', %s, %s FROM {patrons}"
            f" WHERE email <> '' AND contact_id IS NULL{where}"
            " ON CONFLICT (email) DO NOTHING",
            [_json_kinds(), timezone.now()],
        )
        cursor.execute(
            f"UPDATE {patrons} SET contact_id = (SELECT c.id FROM {contacts} c"  # noqa: S608
            f" WHERE c.email = lower({patrons}.email))"
            f" WHERE email <> '' AND contact_id IS NULL{where}"
        )
