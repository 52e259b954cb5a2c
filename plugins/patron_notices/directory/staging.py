"""Records from the sync API, checked by the same rules as a file's rows."""

from __future__ import annotations

from django.utils.translation import gettext as _

from portal.members.models import MemberLibrary

from .presets import ADDRESS_FIELDS, FIELDS
from .rows import Problem, RowChecker, branch_codes, storable


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
