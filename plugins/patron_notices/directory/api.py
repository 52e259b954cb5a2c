"""Patron sync from a member library's ILS (/api/v1/patron-notices/, scope ``patrons:write``).

A token writes only its own library's patrons. ``POST patrons/batch`` creates or updates
up to 1,000 patrons by card number (with their postal address for printed letters),
checked by the same rules as the CSV import, all or nothing: a refused batch answers 422
with the index and field of each problem and writes nothing. Sending the same batch again
changes nothing. ``POST patrons/expire`` expires the named cards, or with ``full_sync``
every card of the library that is not named. Every call is audited with counts only; no
response, log line or audit entry carries a patron's data.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from portal.api.api import require_scope

from . import services

SCOPE = "patrons:write"
PLUGIN = "patron_notices"

router = Router(tags=["patron directory"])


class PatronIn(Schema):
    card_number: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    branch: str = Field("", description="Code of the library or one of its branches.")
    category: str = Field("", description="The ILS patron category code.")
    expires_on: str = Field("", description="YYYY-MM-DD")
    language: str = Field("", description="e.g. en, fr, es-MX")
    consent: bool | None = Field(
        None, description="Consent to consortium notices; null leaves it as it is."
    )
    # The postal address for printed letters. Leaving out all six keeps the address on
    # record; sending them all empty removes it. Lengths are checked with the CSV rules,
    # so a too-long value is a problem with its index and field like any other.
    address_line1: str | None = Field(None, description="Street address (at most 100).")
    address_line2: str | None = Field(None, description="Second line (at most 100).")
    city: str | None = Field(None, description="At most 60.")
    region: str | None = Field(None, description="State, province or county (at most 60).")
    postcode: str | None = Field(None, description="At most 25.")
    country: str | None = Field(None, description="At most 60.")


class BatchIn(Schema):
    patrons: list[PatronIn] = Field(..., max_length=services.BATCH_LIMIT)


class BatchOut(Schema):
    received: int
    created: int
    updated: int
    unchanged: int


class ProblemOut(Schema):
    index: int
    field: str
    code: str
    message: str


class RefusedOut(Schema):
    detail: str
    problems: list[ProblemOut]


class ExpireIn(Schema):
    card_numbers: list[str]
    full_sync: bool = Field(
        False, description="Expire every card of the library that is not in card_numbers."
    )


class ExpireOut(Schema):
    expired: int


def _record(patron: PatronIn) -> dict:
    record = patron.dict()
    consent = record.pop("consent")
    record["consent"] = "" if consent is None else ("yes" if consent else "no")
    return record


@router.post(
    "/patrons/batch",
    response={200: BatchOut, 422: RefusedOut},
    summary="Create or update up to 1,000 patrons of the token's library",
)
def patron_batch(request, payload: BatchIn):
    token = require_scope(request, SCOPE, plugin=PLUGIN)
    records = [_record(p) for p in payload.patrons]
    try:
        staged = services.check_patron_batch(token, records)
    except services.BatchRefused as refused:
        return Status(
            422,
            {
                "detail": "Nothing was written: the batch has problems.",
                "problems": [
                    {"index": p.line, "field": p.column, "code": p.code, "message": str(p.message)}
                    for p in refused.problems
                ],
            },
        )
    written = services.do_patron_batch(token, staged)
    return Status(
        200,
        {
            "received": len(staged),
            "created": written.created,
            "updated": written.updated,
            "unchanged": written.unchanged,
        },
    )


@router.post(
    "/patrons/expire",
    response=ExpireOut,
    summary="Expire patrons of the token's library: the named cards, or all others",
)
def expire_patrons(request, payload: ExpireIn):
    token = require_scope(request, SCOPE, plugin=PLUGIN)
    try:
        cards = services.check_expire_patrons(token, payload.card_numbers, payload.full_sync)
    except ValidationError as exc:
        raise HttpError(422, exc.messages[0]) from exc
    return {"expired": services.do_expire_patrons(token, cards, payload.full_sync)}
