"""Import people from a CSV file: email, name, library code, role.

All or nothing: every row is checked (address, library, role, repeats within the file,
and the importer's right to appoint that role there, through the same
``check_add_membership`` the forms use). If any row is bad nothing is written and the
report lists each problem by line and column; otherwise people are created, appointed
and invited (emails go out after commit). The file is read row by row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from portal.audit.services import record_on_commit

from .exceptions import ActionRefused
from .invitations import do_invite
from .models import MemberLibrary
from .roles import role_choices
from .services import check_add_membership, normalise_email

COLUMNS = ("email", "name", "library", "role")
# Header spellings accepted for each column, compared lower-cased with spaces and
# underscores removed.
HEADER_ALIASES = {
    "email": {"email", "emailaddress", "e-mail"},
    "name": {"name", "fullname"},
    "library": {"library", "librarycode", "code"},
    "role": {"role"},
}
# Past this many, further problems are counted but not listed.
MAX_LISTED_ERRORS = 500


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return _("line %(line)s, column %(column)s: %(message)s") % {
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class ImportReport:
    rows: int = 0
    people_created: int = 0
    memberships_added: int = 0
    already_held: int = 0
    invitations_sent: int = 0
    offers_made: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int, column: str, message) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(RowError(line, column, str(message)))


def _canonical(header: str) -> str | None:
    key = header.strip().lower().replace(" ", "").replace("_", "")
    for column, aliases in HEADER_ALIASES.items():
        if key in aliases:
            return column
    return None


def _role_lookup() -> dict[str, str]:
    """The roles people may be given, by code and by the office's name, lower-cased:
    "ils_coordinator" and "ILS coordinator" both work."""
    lookup = {}
    for code, name in role_choices():
        lookup[code.lower()] = code
        lookup[name.strip().lower()] = code
    return lookup


def open_text(binary_file) -> io.TextIOWrapper:
    """A text view of an uploaded file, UTF-8 with or without a byte-order mark."""
    binary_file = getattr(binary_file, "file", binary_file)  # Django's UploadedFile
    binary_file.seek(0)
    return io.TextIOWrapper(binary_file, encoding="utf-8-sig", newline="")


def import_people(actor, binary_file) -> ImportReport:
    """Check every row of the CSV and, only if all are good, appoint and invite."""
    report = ImportReport()
    text = open_text(binary_file)
    reader = csv.reader(text)
    try:
        with transaction.atomic():
            _import_rows(actor, reader, report, do_invite)
            if not report.ok:
                transaction.set_rollback(True)
            else:
                record_on_commit(
                    "people.imported",
                    actor=actor,
                    data={
                        "rows": report.rows,
                        "people_created": report.people_created,
                        "memberships_added": report.memberships_added,
                    },
                )
    except UnicodeDecodeError:
        report.add_error(
            reader.line_num + 1, _("file"), _("The file is not UTF-8 text; save it as CSV UTF-8.")
        )
    except csv.Error as exc:
        report.add_error(reader.line_num, _("file"), _("Not a readable CSV file: %s") % exc)
    finally:
        text.detach()  # leave the upload open for its owner
    if not report.ok:
        report.people_created = report.memberships_added = report.invitations_sent = 0
        report.offers_made = 0
        report.already_held = 0
    return report


def _import_rows(actor, reader, report: ImportReport, do_invite) -> None:
    header = next(reader, None)
    if header is None:
        report.add_error(1, _("file"), _("The file is empty."))
        return
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        column = _canonical(name)
        if column and column not in positions:
            positions[column] = index
    missing = [c for c in COLUMNS if c not in positions]
    if missing:
        report.add_error(
            1,
            ", ".join(missing),
            _("The header must name the columns: email, name, library, role."),
        )
        return

    roles = _role_lookup()
    libraries: dict[str, MemberLibrary | None] = {}
    seen: dict[tuple[str, str, str], int] = {}
    width = max(positions.values()) + 1
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        report.rows += 1
        if len(row) < width:
            row = row + [""] * (width - len(row))
        raw_email, name, code, raw_role = (row[positions[c]].strip() for c in COLUMNS)
        row_ok = True

        email = None
        try:
            email = normalise_email(raw_email)
        except ActionRefused as refusal:
            report.add_error(line, "email", refusal.message)
            row_ok = False

        if code not in libraries:
            libraries[code] = MemberLibrary.objects.filter(code=code).first() if code else None
        library = libraries[code]
        if library is None:
            message = (
                _("No member library has the code “%(code)s”.") % {"code": code}
                if code
                else _("The library code is missing.")
            )
            report.add_error(line, "library", message)
            row_ok = False

        role = roles.get(raw_role.lower())
        if role is None:
            report.add_error(
                line,
                "role",
                _("“%(role)s” is not a role; use one of: %(roles)s.")
                % {"role": raw_role, "roles": ", ".join(name for _code, name in role_choices())},
            )
            row_ok = False

        if not row_ok:
            continue
        key = (email, library.code, role)
        if key in seen:
            report.add_error(
                line,
                "email",
                _("Repeats line %(line)s (same person, library and role).") % {"line": seen[key]},
            )
            continue
        seen[key] = line

        try:
            check_add_membership(actor, email, library, role)
        except ActionRefused as refusal:
            if refusal.code == "duplicate":
                report.already_held += 1
            else:
                report.add_error(
                    line, "email" if refusal.code == "email" else "role", refusal.message
                )
            continue

        if report.ok:  # once a row is bad nothing will be kept, so stop writing
            try:
                invitation = do_invite(actor, email, name, library, role)
            except ActionRefused as refusal:
                report.add_error(line, "role", refusal.message)
                continue
            if invitation.offered:
                report.offers_made += 1  # someone already here: theirs once they accept
            else:
                report.memberships_added += 1
                report.people_created += invitation.created
                report.invitations_sent += invitation.sent
