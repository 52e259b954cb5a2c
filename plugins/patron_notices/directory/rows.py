"""One row of a patron file checked: its values, or the problems naming its line and
column (never the patron's data)."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _

from portal.members.models import MemberLibrary

from .presets import (
    ADDRESS_FIELDS,
    ADDRESS_LIMITS,
    CONSENT_ATTRIBUTE,
    EMAIL,
    FIELDS,
    LANGUAGE,
    NO,
    YES,
)

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
        self._dates: dict[str, date | None] = {}
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

    def _date(self, value: str) -> date | None:
        """The date of a valid ``YYYY-MM-DD`` (a time after it ignored), else None."""
        try:
            return self._dates[value]
        except KeyError:
            pass
        try:
            found = date.fromisoformat(value[:10])
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


def storable(value: str) -> bool:
    """Text PostgreSQL can store: no NUL, no lone surrogate (JSON can carry both)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def branch_codes(library: MemberLibrary) -> dict[str, int]:
    """Codes of the library and every branch below it (lower-cased) -> id."""
    return {
        code.lower(): pk
        for pk, code in MemberLibrary.objects.filter(path__startswith=library.path).values_list(
            "pk", "code"
        )
    }
