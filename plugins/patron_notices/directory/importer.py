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
import itertools
import operator
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from django.core.files.base import File
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.members.models import MemberLibrary

from .models import Contact, ImportJob, ImportProblem, Patron, PostalAddress

# The postal address, for printed letters. Optional: a file without these columns leaves
# the addresses on record as they are.
ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "region", "postcode", "country")

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
    *ADDRESS_FIELDS,
)
# Columns read for a decision rather than stored: a flag that the address on record is
# known to be wrong (Koha's "gone, no address", set when mail comes back). A flagged row's
# address is removed, so no letter goes to it.
FLAG_FIELDS = ("address_gone",)
# Longest value of each address field: what fits an envelope's window. A longer one is a
# problem on its line and column rather than a cut-off address.
ADDRESS_LIMITS = {
    "address_line1": 100,
    "address_line2": 100,
    "city": 60,
    "region": 60,
    "postcode": 25,
    "country": 60,
}

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
        # The borrowers table's main address (not the alternate B_ or altcontact ones).
        "address_line1": ("address",),
        "address_line2": ("address2",),
        "city": ("city",),
        "region": ("state",),
        "postcode": ("zipcode",),
        "country": ("country",),
        "address_gone": ("gonenoaddress",),
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
        # The staging mailing address (actor.usr_address's columns).
        "address_line1": ("street1",),
        "address_line2": ("street2",),
        "city": ("city", "city_name"),
        "region": ("state", "county"),
        "postcode": ("post_code", "postal_code"),
        "country": ("country",),
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
        "address_line1": ("address_line1", "address1", "address", "street", "street1"),
        "address_line2": ("address_line2", "address2", "street2"),
        "city": ("city", "town", "locality"),
        "region": ("region", "state", "province", "county"),
        "postcode": ("postcode", "postal_code", "post_code", "zipcode", "zip"),
        "country": ("country",),
        "address_gone": ("gonenoaddress", "address_gone", "bad_address"),
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


class Lines:
    """Lines of a byte stream as text: UTF-8 (a leading BOM dropped), else Latin-1.

    Decided per line, so one bad line from a badly converted export does not throw the
    whole file into the wrong encoding; ``on_latin1(line_number)`` hears of each fallback.
    ``offset`` is the byte position after the last line handed out, so a row can be found
    again in the file later (the problems download quotes duplicate rows that way).
    """

    def __init__(self, stream, on_latin1=None, offset: int = 0):
        self.stream = stream
        self.on_latin1 = on_latin1
        self.offset = offset

    def __iter__(self) -> Iterator[str]:
        offset = self.offset
        for number, raw in enumerate(self.stream, start=1):
            if offset == 0 and raw.startswith(codecs.BOM_UTF8):
                offset = len(codecs.BOM_UTF8)
                raw = raw[offset:]
            offset += len(raw)
            self.offset = offset
            if b"\x00" in raw:
                raise csv.Error("line contains NUL")
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                if self.on_latin1 is not None:
                    self.on_latin1(number)
                yield raw.decode("latin-1")


def decoded_lines(stream, on_latin1) -> Iterator[str]:
    return iter(Lines(stream, on_latin1))


def rows_at(stream, offsets: Iterable[int]) -> dict[int, str]:
    """The CSV text of the rows starting at these byte offsets, re-read from the file."""
    found = {}
    while isinstance(stream, File):
        stream = stream.file  # Django's File iterates from the start whatever the position
    for offset in sorted(set(offsets)):
        stream.seek(offset)
        row = next(csv.reader(Lines(stream, offset=offset)), [])
        found[offset] = _csv_line(row)
    return found


def read_header(stream) -> list[str]:
    """The header row of an uploaded file (first non-blank line)."""
    reader = csv.reader(decoded_lines(stream, lambda n: None))
    for row in reader:
        if any(cell.strip() for cell in row):
            return [cell.strip() for cell in row]
    return []


# -- what an upload may be -----------------------------------------------------------------
# A million-patron Koha export is about 170 MB (bench/RESULTS.md); the proxy takes 200 MB.
MAX_MEGABYTES = 200
# Koha's export has 65 columns of at most 21 characters. The mapping page offers every
# column for each of 17 fields: these bound it to well under a megabyte.
MAX_COLUMNS = 250
MAX_COLUMN_NAME = 64
HEAD_BYTES = 64 * 1024  # read to sniff the file, and the longest header line
MAX_ROW_BYTES = 64 * 1024  # a longer row is listed as a problem, never stored whole
MAX_RAW = 2000  # characters of a refused row kept for the problems download


def max_bytes() -> int:
    from django.conf import settings

    return int(getattr(settings, "PATRON_IMPORT_MAX_MEGABYTES", MAX_MEGABYTES)) * 1024 * 1024


class UploadRefused(Exception):
    """The upload is not a patron CSV the import can read; the message says why, in words."""


# Files people pick by mistake, known by their first bytes.
_SIGNATURES = (
    (b"PK\x03\x04", _("This is a spreadsheet or another zipped file, not CSV: save it as CSV.")),
    (b"\xd0\xcf\x11\xe0", _("This is an old Excel file, not CSV: save it as CSV.")),
    (b"%PDF", _("This is a PDF, not CSV: export the patrons from the ILS as CSV.")),
    (b"\x1f\x8b", _("This file is compressed (gzip): unpack it first.")),
    (b"\xff\xfe", _("This file is in UTF-16: save it as UTF-8 CSV.")),
    (b"\xfe\xff", _("This file is in UTF-16: save it as UTF-8 CSV.")),
)
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 13)) + b"\x7f"


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(n // 1024, 1)} KB"


def check_upload(upload) -> list[str]:
    """The header of an upload the import can read, or UploadRefused saying what is wrong.

    Reads the first 64 KB only: size, that it is text (not a spreadsheet, a PDF, binary
    data), that the column names end within it, how many columns and how long their names.
    Rows are checked one by one when the import runs.
    """
    size = upload.size or 0
    if size == 0:
        raise UploadRefused(_("The file is empty."))
    if size > max_bytes():
        raise UploadRefused(
            _("The file is %(size)s; the limit is %(limit)s. Split it into smaller files.")
            % {"size": _size(size), "limit": _size(max_bytes())}
        )
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    for signature, message in _SIGNATURES:
        if head.startswith(signature):
            raise UploadRefused(message)
    if b"\x00" in head or sum(head.count(bytes([c])) for c in _CONTROL) > len(head) // 100:
        raise UploadRefused(
            _("This is not a text file: it holds binary data. Export the patrons as CSV.")
        )
    text = head.removeprefix(codecs.BOM_UTF8)
    first = text.lstrip(b"\r\n")
    end = min((i for i in (first.find(b"\n"), first.find(b"\r")) if i >= 0), default=-1)
    if end < 0 and len(head) == HEAD_BYTES:
        raise UploadRefused(
            _("The first line, the column names, is longer than %(n)s: is this the right file?")
            % {"n": _size(HEAD_BYTES)}
        )
    try:
        header = read_header(io.BytesIO(first if end < 0 else first[: end + 1]))
    except csv.Error:
        header = []
    if not header:
        raise UploadRefused(_("The first line should name the columns; it is empty."))
    if len(header) > MAX_COLUMNS:
        raise UploadRefused(
            _("The file has %(n)d columns; at most %(max)d are read. Export fewer columns.")
            % {"n": len(header), "max": MAX_COLUMNS}
        )
    if any(len(name) > MAX_COLUMN_NAME for name in header):
        raise UploadRefused(
            _("A column name is longer than %(n)d characters: is the first line the header?")
            % {"n": MAX_COLUMN_NAME}
        )
    return header


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
    """Turns a CSV row into a staging row or problems.

    ``stage`` is the per-row fast path the importer runs a million times: it only decides
    whether a row is good and shapes it; a row it refuses goes through ``check``, which
    names each problem. Both apply the same rules.
    """

    def __init__(self, header: list[str], mapping: dict[str, str], branches: dict[str, int]):
        self.index = {}
        for target, column in mapping.items():
            if column in header:
                self.index[target] = (header.index(column), column)
        self.branches = branches
        self.width = len(header)
        self.consent_from_attributes = mapping.get("consent") == "patron_attributes"
        # A file without address columns says nothing about addresses (staged as None).
        self.has_address = any(f in self.index for f in ADDRESS_FIELDS)
        # Unmapped fields read the empty cell that ``stage`` appends after the last column.
        spots = [self.index[f][0] if f in self.index else self.width for f in FIELDS]
        self._pick = operator.itemgetter(*spots[: -len(ADDRESS_FIELDS)])
        self._pick_address = operator.itemgetter(*spots[-len(ADDRESS_FIELDS) :])
        gone = self.index.get("address_gone")
        self._gone = gone[0] if gone and self.has_address else None
        # ILS exports repeat the same few dates and attribute strings: decide each once.
        self._dates: dict[str, str | None] = {}
        self._consents: dict[str, str | None] = {}
        self._languages: dict[str, str] = {}

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

    def _date(self, value: str) -> str | None:
        """``YYYY-MM-DD`` for a valid date (a time after it ignored), else None."""
        try:
            return self._dates[value]
        except KeyError:
            pass
        try:
            found = date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            found = None
        if len(self._dates) > 50_000:
            self._dates.clear()  # a file of all-different dates must not grow memory
        self._dates[value] = found
        return found

    def _consent_of(self, value: str) -> str | None:
        try:
            return self._consents[value]
        except KeyError:
            pass
        found = _consent(value, self.consent_from_attributes)
        if len(self._consents) > 50_000:
            self._consents.clear()
        self._consents[value] = found
        return found

    def _language(self, value: str) -> str:
        try:
            return self._languages[value]
        except KeyError:
            pass
        found = value.lower()
        # An ILS code we do not know is not worth refusing the row for.
        found = found[:8] if LANGUAGE.match(found) else ""
        if len(self._languages) > 50_000:
            self._languages.clear()
        self._languages[value] = found
        return found

    def stage(self, line: int, offset: int, row: list[str]) -> tuple | None:
        """The staging row (see STAGE_COLUMNS) for a good row; None sends it to ``check``."""
        if len(row) != self.width:
            return None  # short or long rows take the careful path
        row.append("")
        picked = self._pick(row)
        address = address_block(self._pick_address(row)) if self.has_address else None
        row.pop()
        if address and self._gone is not None and row[self._gone].strip().lower() in YES:
            address = ""
        card, first, last, email, phone, branch, category, expires, language, consent = picked
        card = card.strip()
        if not card or len(card) > 32:
            return None
        email = email.strip()
        norm = email.lower()
        # Lower-casing can lengthen a few letters; the contact keeps the lower-cased form.
        if email and (len(norm) > 254 or len(email) > 254 or not EMAIL.match(email)):
            return None
        branch = branch.strip()
        branch_id = None
        if branch:
            branch_id = self.branches.get(branch.lower())
            if branch_id is None:
                return None
        expires = expires.strip()
        expires_on = None
        if expires:
            expires_on = self._date(expires)
            if expires_on is None:
                return None
        language = language.strip()
        if address is None and self.has_address:
            return None  # a part too long
        return (
            line,
            offset,
            card,
            first.strip()[:100],
            last.strip()[:100],
            email,
            norm,
            phone.strip()[:40],
            branch_id,
            category.strip()[:40],
            expires_on,
            self._language(language) if language else "",
            self._consent_of(consent.strip()),
            address,
        )

    def check(
        self, line: int, row: list[str], offset: int = 0
    ) -> tuple[tuple | None, list[Problem]]:
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
        if email and (len(email.lower()) > 254 or len(email) > 254 or not EMAIL.match(email)):
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
            expires_on = self._date(expires)
            if expires_on is None:
                problems.append(
                    Problem(
                        line,
                        self.column("expires_on"),
                        "date_invalid",
                        _("Not a date (YYYY-MM-DD)."),
                    )
                )
        language = self.get(row, "language")
        address = None
        if self.has_address:
            parts = [self.get(row, f) for f in ADDRESS_FIELDS]
            for name, value in zip(ADDRESS_FIELDS, parts, strict=True):
                if len(value) > ADDRESS_LIMITS[name]:
                    problems.append(
                        Problem(
                            line,
                            self.column(name),
                            "address_too_long",
                            _("Too long for an address (at most %(n)d characters).")
                            % {"n": ADDRESS_LIMITS[name]},
                        )
                    )
            address = address_block(parts)
            if address and self.get(row, "address_gone").lower() in YES:
                address = ""
        if problems:
            return None, problems
        return (
            line,
            offset,
            card,
            self.get(row, "first_name")[:100],
            self.get(row, "last_name")[:100],
            email,
            email.lower(),
            self.get(row, "phone")[:40],
            branch_id,
            self.get(row, "category")[:40],
            expires_on,
            self._language(language) if language else "",
            self._consent_of(self.get(row, "consent")),
            address,
        ), []


def address_block(parts) -> str | None:
    """The address as it goes on the envelope, one line per line ("" for none), from the
    values of ADDRESS_FIELDS; None when a value is longer than ADDRESS_LIMITS allows.

    Street lines keep line breaks the ILS has inside them; city, region and postcode
    share one line ("Springfield, IL 62701"). Straight-line code: it runs once per row.
    """
    line1, line2, city, region, postcode, country = parts
    line1, line2, city = line1.strip(), line2.strip(), city.strip()
    region, postcode, country = region.strip(), postcode.strip(), country.strip()
    if (
        len(line1) > 100
        or len(line2) > 100
        or len(city) > 60
        or len(region) > 60
        or len(postcode) > 25
        or len(country) > 60
    ):
        return None  # the limits of ADDRESS_LIMITS
    locality = f"{city}, {region}" if city and region else city or region
    if postcode:
        locality = f"{locality} {postcode}" if locality else postcode
    block = "\n".join([p for p in (line1, line2, locality, country) if p])
    if "\r" in block or "\n\n" in block or " \n" in block or "\n " in block:
        # Line breaks inside a street cell: tidy them.
        block = "\n".join(p.strip() for p in block.splitlines() if p.strip())
    return block


# Held shared by every writer that links patrons to contacts, exclusively by the purge of
# orphaned contacts: a contact an import found cannot vanish before its patrons commit
# (the patron's contact reference has no database constraint; see models.Patron).
CONTACTS_LOCK = "patron_notices.contacts"


def hold_references(library_id: int | None, branch_ids: Iterable[int]) -> None:
    """Inside a transaction: keep the library, branches and contacts this write refers to.

    FOR KEY SHARE on the library and branch rows is what a foreign-key check takes, once
    per row referred to rather than once per patron; the shared advisory lock keeps the
    contacts (see above).
    """
    if connection.vendor != "postgresql":
        return  # SQLite serialises writers: nothing can be deleted meanwhile
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s))", [CONTACTS_LOCK])
        ids = sorted({*branch_ids, *([library_id] if library_id else [])})
        if ids:
            cursor.execute(
                f"SELECT id FROM {MemberLibrary._meta.db_table}"  # noqa: S608
                " WHERE id = ANY(%s) FOR KEY SHARE",
                [ids],
            )


def hold_contacts_exclusively() -> None:
    """Inside a transaction: wait for writers linking patrons to contacts (the purge)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [CONTACTS_LOCK])


def branch_codes(library: MemberLibrary) -> dict[str, int]:
    """Codes of the library and every branch below it (lower-cased) -> id."""
    return {
        code.lower(): pk
        for pk, code in MemberLibrary.objects.filter(path__startswith=library.path).values_list(
            "pk", "code"
        )
    }


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
            if not "".join(row).strip():
                continue  # blank lines are not rows
            if start_offset - offset > MAX_ROW_BYTES and checker is not None:
                stats.rows += 1
                self.problem(
                    Problem(
                        line,
                        "",
                        "row_too_long",
                        _("This row is longer than %(n)s: is it one patron?")
                        % {"n": _size(MAX_ROW_BYTES)},
                        _csv_line(row)[:MAX_RAW],
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
                    raw = _csv_line(row)[:MAX_RAW]
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


class ImportRefused(Exception):
    """The file as a whole cannot be imported (no card number column, empty)."""


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return _("a field is longer than %(n)s") % {"n": _size(csv.field_size_limit())}
    if "NUL" in text:
        return _("it holds a NUL byte, so it is not text")
    if "new-line character" in text:
        return _("its lines end in a lone carriage return: save it with Windows or Unix line ends")
    return _("unbalanced quotes or a stray character")


def _csv_line(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue().rstrip("\r\n")


STAGE_COLUMNS = (
    "line",
    "pos",
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
    "address",
)


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
                        # A temporary table is never analysed by autovacuum.
                        cursor.execute("ANALYZE patron_stage")
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
                [_json_kinds(), now],
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
            f" FROM patron_stage s JOIN {table} p"  # noqa: S608
            " ON p.library_id = %(library)s AND p.card_number = s.card"
        )
        with self.importer.phase("postal addresses"):
            if not existing:
                cursor.execute(
                    f"INSERT INTO {addresses} (patron_id, lines)"  # noqa: S608
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


def _json_kinds() -> str:
    import json

    from .models import notice_kinds_default

    return json.dumps(notice_kinds_default())


class OrmUpsert:
    """The embedded default's path (SQLite, or any database): the ORM in batches.

    Duplicates are found with an in-memory map of card numbers (card numbers and lines
    only, not rows); the valid rows are kept until the end, which is fine for the demo's
    files. PostgreSQL deployments take the streaming path above.
    """

    def __init__(self, importer: Importer):
        self.importer = importer
        self.job = importer.job

    def run(self, stream) -> dict:
        importer, job = self.importer, self.job
        seen: dict[str, int] = {}
        staged = []
        duplicates = []
        for row in importer.rows(stream):
            card = row[2]
            if card in seen:
                duplicates.append((row[0], row[1], seen[card]))
                continue
            seen[card] = row[0]
            staged.append(row)
        importer.report(ImportJob.Phase.DEDUPLICATING)
        if duplicates:
            raws = rows_at(stream, [pos for _line, pos, _first in duplicates])
            for line, pos, first in duplicates:
                importer.duplicate(line, first, raws[pos])
        if importer.all_or_nothing_failed():
            return {"status": ImportJob.Status.REJECTED, "imported": 0, "expired": 0}
        now = timezone.now()
        importer.report(ImportJob.Phase.WRITING)
        with transaction.atomic():
            lock_library_patrons(job.library_id)
            hold_references(job.library_id, importer.branches.values())
            upsert_staged(job.library_id, staged, f"import {job.pk}", now)
            expired = 0
            if job.full_sync:
                importer.report(ImportJob.Phase.EXPIRING)
                gone = (
                    set(
                        Patron.objects.filter(library=job.library, expired_at__isnull=True)
                        .values_list("card_number", flat=True)
                        .iterator(chunk_size=2000)
                    )
                    - seen.keys()
                )
                for chunk in _chunks(sorted(gone), 500):
                    expired += Patron.objects.filter(
                        library=job.library, card_number__in=chunk
                    ).update(expired_at=now)
        return {"status": ImportJob.Status.DONE, "imported": len(staged), "expired": expired}


def storable(value: str) -> bool:
    """Text PostgreSQL can store: no NUL, no lone surrogate (JSON can carry both)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def stage_records(library: MemberLibrary, records: list[dict]) -> tuple[list[tuple], list[Problem]]:
    """Records given as ``{field: value}`` (the sync API) checked by the CSV rules.

    Address fields are optional: a record with none of them (None) leaves the patron's
    postal address as it is. A problem's ``line`` is the record's index in the list, its
    ``column`` the field;
    a card number given twice is a problem at the later index. Returns the staging rows
    (see STAGE_COLUMNS) and the problems; never the values in a problem.
    """
    checker = RowChecker(list(FIELDS), {f: f for f in FIELDS}, branch_codes(library))
    staged, problems = [], []
    first_at: dict[str, int] = {}
    for index, record in enumerate(records):
        row = []
        for name in FIELDS:
            value = record.get(name)
            row.append("" if value is None else str(value))
        bad = [name for name, value in zip(FIELDS, row, strict=True) if not storable(value)]
        if bad:
            problems.extend(
                Problem(index, name, "character_invalid", _("Contains a character not allowed."))
                for name in bad
            )
            continue
        row_staged, found = checker.check(index, row)
        if found:
            problems.extend(found)
            continue
        card = row_staged[2]
        if card in first_at:
            problems.append(
                Problem(
                    index,
                    "card_number",
                    "card_duplicate",
                    _("Card number already at index %(index)d.") % {"index": first_at[card]},
                )
            )
            continue
        first_at[card] = index
        if all(record.get(name) is None for name in ADDRESS_FIELDS):
            # A record without address fields leaves the address on record alone; one
            # with them all empty removes it.
            row_staged = (*row_staged[:-1], None)
        staged.append(row_staged)
    return staged, problems


def lock_library_patrons(library_id: int) -> None:
    """Inside a transaction: one writer of a library's patrons at a time (imports, the
    sync API), so "update the cards we have, insert the others" holds."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext('patron_notices.import'), %s)",
                [library_id],
            )


@dataclass
class Written:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert_staged(library_id: int, staged: list[tuple], source: str, now=None) -> Written:
    """Write staging rows (see STAGE_COLUMNS, card numbers unique) with the ORM, inside the
    caller's transaction, after ``lock_library_patrons`` and ``hold_references``.

    Contacts by normalised address; consent changed only where a row says so (``source``
    records who said it); a patron whose values all match is left as it is.
    """
    now = now or timezone.now()
    written = Written()
    emails = {r[6] for r in staged if r[6]}
    Contact.objects.bulk_create(
        [Contact(email=e) for e in emails], ignore_conflicts=True, batch_size=1000
    )
    contact_ids = {}
    for chunk in _chunks(sorted(emails), 500):
        contact_ids.update(Contact.objects.filter(email__in=chunk).values_list("email", "pk"))
    existing = {}
    for chunk in _chunks([r[2] for r in staged], 500):
        existing.update(
            (p.card_number, p)
            for p in Patron.objects.filter(library_id=library_id, card_number__in=chunk)
        )
    # Addresses on record of the patrons whose rows say something about theirs.
    said = {r[2]: r[13] for r in staged if r[13] is not None}
    on_record: dict[int, PostalAddress] = {}
    for chunk in _chunks([existing[c].pk for c in said if c in existing], 500):
        on_record.update(
            (a.patron_id, a) for a in PostalAddress.objects.filter(patron_id__in=chunk)
        )
    patrons = []
    for (
        _line,
        _pos,
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
        address,
    ) in staged:
        old = existing.get(card)
        consent_at = old.consent_given_at if old else None
        consent_source = old.consent_source if old else ""
        if consent == "y" and consent_at is None:
            consent_at, consent_source = now, source
        elif consent == "n" and consent_at is not None:
            consent_at, consent_source = None, source
        patron = Patron(
            library_id=library_id,
            card_number=card,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            home_branch_id=branch_id,
            category=category,
            expires_on=date.fromisoformat(expires) if expires else None,
            preferred_language=language or "en",
            contact_id=contact_ids.get(norm),
            consent_given_at=consent_at,
            consent_source=consent_source,
            expired_at=None,
            updated_at=now,
        )
        if old is not None and _same(old, patron) and _same_address(on_record, old, address):
            written.unchanged += 1
            continue  # a second import of the same file rewrites nothing
        if old is None:
            written.created += 1
        else:
            written.updated += 1
        patrons.append(patron)
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
        batch_size=500,
    )
    _write_addresses(library_id, said, existing, on_record)
    return written


def _same_address(on_record: dict, patron: Patron, address: str | None) -> bool:
    if address is None:
        return True  # the row says nothing about the address
    current = on_record.get(patron.pk)
    return (current.lines if current else "") == address


def _write_addresses(
    library_id: int, said: dict[str, str], existing: dict[str, Patron], on_record: dict
) -> None:
    """Postal addresses as the rows say (``{card: block}``, "" for none), in batches."""
    if not said:
        return
    ids = {card: p.pk for card, p in existing.items()}
    new_cards = [c for c, block in said.items() if block and c not in ids]
    for chunk in _chunks(new_cards, 500):
        ids.update(
            Patron.objects.filter(library_id=library_id, card_number__in=chunk).values_list(
                "card_number", "pk"
            )
        )
    create, change, remove = [], [], []
    for card, block in said.items():
        current = on_record.get(ids[card]) if card in ids else None
        if not block:
            if current is not None:
                remove.append(current.pk)
        elif current is None:
            create.append(PostalAddress(patron_id=ids[card], lines=block))
        elif current.lines != block:
            current.lines = block
            change.append(current)
    for chunk in _chunks(remove, 500):
        PostalAddress.objects.filter(pk__in=chunk).delete()
    PostalAddress.objects.bulk_create(create, batch_size=500)
    PostalAddress.objects.bulk_update(change, ["lines"], batch_size=500)


# What an import writes; a patron whose values all match is left as it is.
_COMPARED = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "home_branch_id",
    "category",
    "expires_on",
    "preferred_language",
    "contact_id",
    "consent_given_at",
    "consent_source",
    "expired_at",
)


def _same(old: Patron, new: Patron) -> bool:
    return all(getattr(old, f) == getattr(new, f) for f in _COMPARED)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def link_contacts(library_ids: list[int] | None = None) -> None:
    """Give patrons without one their contact (by normalised email), creating contacts.

    Plain SQL that PostgreSQL and SQLite both run, for rows written without the importer
    (the demo seeder's COPY).
    """
    patrons, contacts = Patron._meta.db_table, Contact._meta.db_table
    ids = ",".join(str(int(i)) for i in library_ids or [])
    where = f" AND library_id IN ({ids})" if ids else ""
    # psycopg sends the JSON as text; PostgreSQL wants it cast (SQLite stores text anyway).
    kinds = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with transaction.atomic(), connection.cursor() as cursor:
        hold_references(None, ())
        cursor.execute(
            f"INSERT INTO {contacts} (email, language, notice_kinds, created_at)"  # noqa: S608
            f" SELECT DISTINCT lower(email), '', {kinds}, %s FROM {patrons}"
            f" WHERE email <> '' AND contact_id IS NULL{where}"
            " ON CONFLICT (email) DO NOTHING",
            [_json_kinds(), timezone.now()],
        )
        cursor.execute(
            f"UPDATE {patrons} SET contact_id = (SELECT c.id FROM {contacts} c"  # noqa: S608
            f" WHERE c.email = lower({patrons}.email))"
            f" WHERE email <> '' AND contact_id IS NULL{where}"
        )
