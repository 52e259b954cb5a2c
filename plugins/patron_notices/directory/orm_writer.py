"""The ORM path of an import (SQLite, the sync API): rows written in batches, contacts
linked by address."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone

from .locks import hold_references, lock_library_patrons
from .models import Contact, ImportJob, Patron, PostalAddress
from .presets import default_kinds_json
from .uploads import rows_at

if TYPE_CHECKING:
    from .importer import Importer


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
            expires_on=expires,
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
            [default_kinds_json(), timezone.now()],
        )
        cursor.execute(
            f"UPDATE {patrons} SET contact_id = (SELECT c.id FROM {contacts} c"  # noqa: S608
            f" WHERE c.email = lower({patrons}.email))"
            f" WHERE email <> '' AND contact_id IS NULL{where}"
        )
