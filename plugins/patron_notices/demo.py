"""Demo patrons for ``manage.py seed_demo`` (the plugin's ``demo_seeder``).

Patrons are spread over the libraries that issue cards (standalone members and branches),
bigger libraries getting more. About one patron in fifty also holds a card at a second
library under the same address, so a campaign has duplicates to remove; some have no
address and some never gave consent. On PostgreSQL the rows go in with COPY, in chunks so
memory stays flat at a million; elsewhere with bulk_create.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone

from portal.demo import FIRST_NAMES, LAST_NAMES
from portal.members.models import MemberLibrary

from .models import Patron

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
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Patron._meta.db_table}")
    else:
        _bulk_create(rows)
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


def _rows(rng: random.Random, libraries, shares, now: datetime):
    """Yield one tuple per patron, in COLUMNS order."""
    first_names, last_names, languages = FIRST_NAMES, LAST_NAMES, LANGUAGES
    random_ = rng.random
    choice = rng.choice
    ten_years = 10 * 365 * 86400
    epoch = now.timestamp() - ten_years
    seen: list[tuple[str, str, str]] = []  # people who may also hold a second card
    serial = 0
    for position, (library, count) in enumerate(zip(libraries, shares, strict=True)):
        prefix = f"2{position % 10000:04d}"
        for n in range(1, count + 1):
            serial += 1
            if seen and random_() < 0.02:
                first, last, email = choice(seen)
            else:
                first, last = choice(first_names), choice(last_names)
                roll = random_()
                if roll < 0.06:
                    email = ""
                else:
                    email = f"{first}.{last}{serial}@{choice(EMAIL_DOMAINS)}".lower()
                if len(seen) < 5000 and email and roll > 0.9:
                    seen.append((first, last, email))
            created = epoch + random_() * ten_years
            consent = None
            if email and random_() < 0.82:
                consent = created + random_() * (now.timestamp() - created)
            yield (
                library.pk,
                f"{prefix}{n:09d}",
                first,
                last,
                email,
                choice(languages),
                consent,
                created,
            )


def _when(timestamp: float | None) -> datetime | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _copy(rows) -> None:
    """COPY in text format. Values come from the fixed word lists above, so none holds a
    tab, newline or backslash that would need escaping."""
    table = Patron._meta.db_table
    sql = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        buffer: list[str] = []
        for library_id, card, first, last, email, language, consent, created in rows:
            consent_text = _when(consent).isoformat() if consent is not None else r"\N"
            buffer.append(
                f"{library_id}\t{card}\t{first}\t{last}\t{email}\t{language}\t"
                f"{consent_text}\t{_when(created).isoformat()}\n"
            )
            if len(buffer) >= CHUNK:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))


def _bulk_create(rows) -> None:
    batch: list[Patron] = []
    for library_id, card, first, last, email, language, consent, created in rows:
        batch.append(
            Patron(
                library_id=library_id,
                card_number=card,
                first_name=first,
                last_name=last,
                email=email,
                preferred_language=language,
                consent_given_at=_when(consent),
                created_at=_when(created),
            )
        )
        if len(batch) >= 5000:
            _insert(batch)
            batch = []
    if batch:
        _insert(batch)


def _insert(batch: list[Patron]) -> None:
    Patron.objects.bulk_create(batch, batch_size=1000)
