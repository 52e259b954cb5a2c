"""Demo patrons for ``manage.py seed_demo`` (the plugin's ``demo_seeder``).

Patrons are spread over the libraries that issue cards (standalone members and branches),
bigger libraries getting more. About one patron in fifty also holds a card at a second
library under the same address, so a campaign has duplicates to remove; some have no
address and some never gave consent. On PostgreSQL the rows go in with COPY, in chunks so
memory stays flat at a million; elsewhere with bulk_create.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from portal.db import refresh_statistics
from portal.demo import FIRST_NAMES, LAST_NAMES
from portal.members.models import MemberLibrary

from .models import Patron
from .orm_writer import link_contacts

CHUNK = 50_000
LANGUAGES = ["en"] * 86 + ["es"] * 10 + ["fr"] * 4
EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]
COLUMNS = (
    "library_id",
    "card_number",
    "first_name",
    "last_name",
    "email",
    "preferred_language",
    "consent_given_at",
    "created_at",
)


def seed_patrons(libraries: list[MemberLibrary], options: dict) -> dict[str, int]:
    """Create ``options["patrons"]`` patrons across ``libraries``; returns the summary count."""
    total = options.get("patrons", 0)
    card_issuers = [
        lib
        for lib in libraries
        if lib.kind in (MemberLibrary.Kind.LIBRARY, MemberLibrary.Kind.BRANCH)
    ] or [lib for lib in libraries if not lib.is_consortium]
    if not total or not card_issuers:
        return {"patrons": 0}
    rng = random.Random(options.get("seed", 0))
    shares = _shares(total, [float(lib.vote_weight) or 1.0 for lib in card_issuers])
    rows = _rows(rng, card_issuers, shares, timezone.now())
    if connection.vendor == "postgresql":
        _copy(rows)
        refresh_statistics(Patron)
    else:
        _bulk_create(rows)
    # One contact per address, as the importer would have made.
    link_contacts()
    return {"patrons": total}


def _shares(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder, sums exactly)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _moments(rng: random.Random, now: datetime, count: int = 20_000) -> list[tuple]:
    """(created, consent or None, and both as COPY text) drawn from the last ten years.

    Patrons pick one of these rather than computing dates row by row: the dates stay
    varied and a million rows are generated in seconds.
    """
    moments = []
    ten_years = 10 * 365 * 86400
    for _ in range(count):
        created = now - timedelta(seconds=rng.random() * ten_years)
        consent = None
        if rng.random() < 0.85:
            consent = created + (now - created) * rng.random()
        moments.append(
            (created, consent, created.isoformat(), consent.isoformat() if consent else r"\N")
        )
    return moments


def _rows(rng: random.Random, libraries, shares, now: datetime):
    """Yield (library_id, card, first, last, email, language, moment) per patron."""
    first_names, last_names, languages = FIRST_NAMES, LAST_NAMES, LANGUAGES
    moments, no_consent = _moments(rng, now), None
    random_, choice = rng.random, rng.choice
    seen: list[tuple[str, str, str]] = []  # people who may also hold a second card
    serial = 0
    for position, (library, count) in enumerate(zip(libraries, shares, strict=True)):
        prefix = f"2{position % 10000:04d}"
        library_id = library.pk
        for n in range(1, count + 1):
            serial += 1
            roll = random_()
            if seen and roll < 0.02:
                first, last, email = choice(seen)
            else:
                first, last = choice(first_names), choice(last_names)
                if roll < 0.08:
                    email = ""
                else:
                    email = f"{first}.{last}{serial}@{choice(EMAIL_DOMAINS)}".lower()
                    if roll > 0.99 and len(seen) < 5000:
                        seen.append((first, last, email))
            moment = choice(moments)
            if not email and moment[1] is not None:
                # Nobody consents to email without an address.
                no_consent = no_consent or next(m for m in moments if m[1] is None)
                moment = no_consent
            yield library_id, f"{prefix}{n:09d}", first, last, email, choice(languages), moment


def _copy(rows) -> None:
    """COPY in text format, with the table's indexes and foreign key built afterwards.

    Values come from the fixed word lists, so none holds a tab, newline or backslash that
    would need escaping.
    """
    table = Patron._meta.db_table
    sql = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
    with _without_indexes(), connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        buffer: list[str] = []
        for library_id, card, first, last, email, language, moment in rows:
            buffer.append(
                f"{library_id}\t{card}\t{first}\t{last}\t{email}\t{language}\t"
                f"{moment[3]}\t{moment[2]}\n"
            )
            if len(buffer) >= CHUNK:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))


@contextmanager
def _without_indexes():
    """Drop the indexes, the unique constraint and the foreign key of an empty patron table
    for a bulk load, and build them again after it: one pass each instead of a million
    index updates and a million deferred foreign-key checks at commit."""
    if Patron.objects.exists():
        yield
        return
    table = Patron._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    # Every foreign key of the table: each would queue a deferred check per copied row.
    foreign_keys = {
        name: (info["columns"][0], *info["foreign_key"])
        for name, info in constraints.items()
        if info["foreign_key"]
    }
    with connection.schema_editor() as editor:
        # ALTER TABLE refuses tables with deferred checks pending from the seed so far;
        # run those checks now, then defer again.
        editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        editor.execute("SET CONSTRAINTS ALL DEFERRED")
        for index in Patron._meta.indexes:
            editor.remove_index(Patron, index)
        for constraint in Patron._meta.constraints:
            editor.remove_constraint(Patron, constraint)
        for name in foreign_keys:
            editor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    yield
    with connection.schema_editor() as editor:
        editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        editor.execute("SET CONSTRAINTS ALL DEFERRED")
        for name, (column, target, target_column) in foreign_keys.items():
            editor.execute(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" FOREIGN KEY ("{column}") '
                f'REFERENCES "{target}" ("{target_column}") DEFERRABLE INITIALLY DEFERRED'
            )
        for constraint in Patron._meta.constraints:
            editor.add_constraint(Patron, constraint)
        for index in Patron._meta.indexes:
            editor.add_index(Patron, index)


def _bulk_create(rows) -> None:
    batch: list[Patron] = []
    for library_id, card, first, last, email, language, moment in rows:
        batch.append(
            Patron(
                library_id=library_id,
                card_number=card,
                first_name=first,
                last_name=last,
                email=email,
                preferred_language=language,
                consent_given_at=moment[1],
                created_at=moment[0],
            )
        )
        if len(batch) >= 5000:
            _insert(batch)
            batch = []
    if batch:
        _insert(batch)


def _insert(batch: list[Patron]) -> None:
    Patron.objects.bulk_create(batch, batch_size=1000)
