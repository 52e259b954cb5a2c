"""Postal addresses from the CSV import, for printed letters: the presets' columns, the
address block, validation by line and column, idempotent re-import, removal and sync."""

import pytest
from django.db import connection

from plugins.patron_notices.models import ImportJob, ImportProblem, Patron, PostalAddress
from plugins.patron_notices.notices import letters

from .conftest import KOHA_HEADER, koha_row
from .engine_support import notice
from .test_import_paths import ENGINES, run_with

pytestmark = pytest.mark.django_db


def koha_file(*rows) -> bytes:
    return ("\n".join([KOHA_HEADER, *rows]) + "\n").encode()


ELM = {
    "address": "12 Elm Road",
    "address2": "Flat 3",
    "city": "Springfield",
    "state": "IL",
    "zipcode": "62701",
    "country": "USA",
}
NOWHERE = dict.fromkeys(ELM, "")


def addresses() -> dict[str, str]:
    return dict(PostalAddress.objects.values_list("patron__card_number", "lines"))


def snapshot() -> list[tuple]:
    """Each address row with its PostgreSQL row version: a rewrite changes xmin."""
    if connection.vendor != "postgresql":
        return list(PostalAddress.objects.order_by("pk").values_list("pk", "lines"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT patron_id, lines, xmin::text FROM {PostalAddress._meta.db_table}"  # noqa: S608
            " ORDER BY patron_id"
        )
        return cursor.fetchall()


@pytest.mark.parametrize("engine", ENGINES)
def test_koha_address_columns_make_the_address_block(
    engine, people, libs, django_capture_on_commit_callbacks
):
    content = koha_file(
        koha_row(1, "1001", "Okafor", "Ada", "", **ELM),
        # Only some parts, and a street cell with a line break of its own.
        koha_row(2, "1002", "Lee", "Chen", "", **{**NOWHERE, "address": "Unit 4\n9 Oak Lane"}),
        koha_row(3, "1003", "Moss", "Cy", "", **{**NOWHERE, "zipcode": "01234"}),
        koha_row(4, "1004", "Ruiz", "Bo", "", **NOWHERE),  # no address at all
    )
    job = run_with(
        engine, people["comms"], libs["north"], content, django_capture_on_commit_callbacks
    )
    assert job.status == ImportJob.Status.DONE and job.rows_imported == 4
    assert addresses() == {
        "1001": "12 Elm Road\nFlat 3\nSpringfield, IL 62701\nUSA",
        "1002": "Unit 4\n9 Oak Lane",
        "1003": "01234",
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_reimport_is_idempotent_then_updates_and_removes(
    engine, people, libs, django_capture_on_commit_callbacks
):
    rows = [
        koha_row(1, "1001", "Okafor", "Ada", "", **ELM),
        koha_row(2, "1002", "Lee", "Chen", "", **{**ELM, "address": "9 Oak Lane"}),
        koha_row(3, "1003", "Moss", "Cy", "cy@example.org", **{**ELM, "address": "3 Ash Row"}),
    ]
    run = [engine, people["comms"], libs["north"]]
    run_with(*run, koha_file(*rows), django_capture_on_commit_callbacks)
    before = snapshot()
    assert len(before) == 3
    run_with(*run, koha_file(*rows), django_capture_on_commit_callbacks)
    assert snapshot() == before  # nothing rewritten, nothing added
    changed = [
        koha_row(1, "1001", "Okafor", "Ada", "", **{**ELM, "address": "14 Elm Road"}),
        koha_row(2, "1002", "Lee", "Chen", "", **NOWHERE),  # moved away: no address now
        rows[2],
    ]
    run_with(*run, koha_file(*changed), django_capture_on_commit_callbacks)
    assert addresses() == {
        "1001": "14 Elm Road\nFlat 3\nSpringfield, IL 62701\nUSA",
        "1003": "3 Ash Row\nFlat 3\nSpringfield, IL 62701\nUSA",
    }
    kept = {pk for pk, *_rest in before}
    assert set(PostalAddress.objects.values_list("pk", flat=True)) <= kept  # updated in place


@pytest.mark.parametrize("engine", ENGINES)
def test_a_file_without_address_columns_leaves_addresses_alone(
    engine, people, libs, django_capture_on_commit_callbacks
):
    run = [engine, people["comms"], libs["north"]]
    run_with(
        *run,
        koha_file(koha_row(1, "1001", "Okafor", "Ada", "", **ELM)),
        django_capture_on_commit_callbacks,
    )
    before = snapshot()
    plain = b"cardnumber,surname,firstname,email\n1001,Okafor,Adaeze,\n1005,New,Card,\n"
    job = run_with(*run, plain, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.DONE and job.rows_imported == 2
    assert Patron.objects.get(card_number="1001").first_name == "Adaeze"
    assert snapshot() == before


@pytest.mark.parametrize("engine", ENGINES)
def test_too_long_address_names_line_and_column(
    engine, people, libs, django_capture_on_commit_callbacks
):
    content = koha_file(
        koha_row(1, "1001", "Okafor", "Ada", "", **ELM),  # line 2
        koha_row(2, "1002", "Lee", "Chen", "", **{**ELM, "address": "x" * 101}),  # line 3
        koha_row(3, "1003", "Moss", "Cy", "", **{**ELM, "zipcode": "9" * 26}),  # line 4
        koha_row(4, "1004", "Ruiz", "Bo", "", **{**ELM, "city": "C" * 61, "country": "U" * 61}),
        koha_row(5, "1005", "Dee", "Al", "", **{**ELM, "address": "x" * 100}),  # at the limit
    )
    job = run_with(
        engine, people["comms"], libs["north"], content, django_capture_on_commit_callbacks
    )
    problems = {(p.line, p.column, p.code) for p in ImportProblem.objects.filter(job=job)}
    assert problems == {
        (3, "address", "address_too_long"),
        (4, "zipcode", "address_too_long"),
        (5, "city", "address_too_long"),
        (5, "country", "address_too_long"),
    }
    assert "at most 100" in ImportProblem.objects.get(job=job, line=3).message
    assert "x" * 10 not in ImportProblem.objects.get(job=job, line=3).message
    assert job.rows_imported == 2
    assert set(addresses()) == {"1001", "1005"}


@pytest.mark.parametrize("engine", ENGINES)
def test_full_sync_leaves_addresses_consistent(
    engine, people, libs, django_capture_on_commit_callbacks
):
    run = [engine, people["comms"], libs["north"]]
    first = [
        koha_row(1, "1001", "Okafor", "Ada", "", **ELM),
        koha_row(2, "1002", "Lee", "Chen", "", **{**ELM, "address": "9 Oak Lane"}),
        koha_row(3, "1003", "Moss", "Cy", "", **{**ELM, "address": "3 Ash Row"}),
    ]
    run_with(*run, koha_file(*first), django_capture_on_commit_callbacks)
    n = notice(include_print=True)
    assert letters.count_letters(n) == 3
    synced = [
        koha_row(1, "1001", "Okafor", "Ada", "", **{**ELM, "address": "14 Elm Road"}),
        koha_row(3, "1003", "Moss", "Cy", "", **NOWHERE),
        koha_row(4, "1004", "Ruiz", "Bo", "", **{**ELM, "address": "7 High St"}),
    ]
    job = run_with(*run, koha_file(*synced), django_capture_on_commit_callbacks, full_sync=True)
    assert job.rows_expired == 1
    current = {
        p.card_number: p.postal_address.lines.splitlines()[0]
        for p in Patron.objects.filter(expired_at=None, postal_address__isnull=False)
    }
    assert current == {"1001": "14 Elm Road", "1004": "7 High St"}
    # The card the library no longer lists keeps its data until the purge, like the rest
    # of its record, but gets no letter; the purge takes the address with the patron.
    assert set(letters.print_audience(n).values_list("card_number", flat=True)) == {
        "1001",
        "1004",
    }
    Patron.objects.filter(card_number="1002").delete()
    assert set(addresses()) == {"1001", "1004"}


def test_evergreen_and_generic_presets(people, libs, django_capture_on_commit_callbacks):
    from .conftest import run_import

    evergreen = (
        b"barcode,first_given_name,family_name,email,street1,street2,city,county,"
        b"post_code,country\n"
        b"E1,Ada,Okafor,,1 Quay St,,Eastham,Kent,ME1 2AB,UK\n"
    )
    job = run_import(
        people["comms"],
        libs["north"],
        evergreen,
        preset="evergreen",
        capture=django_capture_on_commit_callbacks,
    )
    assert job.mapping["region"] == "county" and job.mapping["postcode"] == "post_code"
    generic = (
        b"card_number,first_name,last_name,address_line1,address_line2,city,region,"
        b"postal_code,country\n"
        b'G1,Bo,Ruiz,"7 Rue Haute, Bat. B",,Lyon,,69001,France\n'
    )
    run_import(
        people["comms"],
        libs["north"],
        generic,
        preset="generic",
        capture=django_capture_on_commit_callbacks,
    )
    assert addresses() == {
        "E1": "1 Quay St\nEastham, Kent ME1 2AB\nUK",
        "G1": "7 Rue Haute, Bat. B\nLyon 69001\nFrance",
    }


def test_the_purge_takes_the_address_with_the_patron(
    people, libs, settings, django_capture_on_commit_callbacks
):
    """The address has no database constraint: Django's cascade must remove it."""
    from datetime import timedelta

    from django.utils import timezone

    from plugins.patron_notices.directory import services

    from .conftest import run_import

    rows = [
        koha_row(1, "1001", "Okafor", "Ada", "", **ELM),
        koha_row(2, "1002", "Lee", "Chen", "", **{**ELM, "address": "9 Oak Lane"}),
    ]
    run_import(
        people["comms"], libs["north"], koha_file(*rows), capture=django_capture_on_commit_callbacks
    )
    settings.PATRON_EXPIRED_RETENTION_DAYS = 30
    now = timezone.now()
    Patron.objects.filter(card_number="1002").update(expired_at=now - timedelta(days=31))
    assert services.do_purge_expired(now) == 2  # the patron and its address
    assert set(addresses()) == {"1001"}
    assert PostalAddress.objects.count() == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_koha_gone_no_address_removes_the_address_so_no_letter_goes_to_it(
    engine, people, libs, django_capture_on_commit_callbacks
):
    run = [engine, people["comms"], libs["north"]]
    rows = [koha_row(n, f"100{n}", "Okafor", f"P{n}", "", **ELM) for n in (1, 2, 3)]
    run_with(*run, koha_file(*rows), django_capture_on_commit_callbacks)
    assert set(addresses()) == {"1001", "1002", "1003"}
    # Mail to 1002 came back: Koha flags it; 1003's row is short (the careful path).
    flagged = koha_row(2, "1002", "Okafor", "P2", "", gonenoaddress="1", **ELM)
    short = koha_row(3, "1003", "Okafor", "P3", "", gonenoaddress="1", **ELM).rsplit(",", 3)[0]
    unflagged = koha_row(1, "1001", "Okafor", "P1", "", gonenoaddress="0", **ELM)
    job = run_with(*run, koha_file(unflagged, flagged, short), django_capture_on_commit_callbacks)
    assert job.rows_imported == 3
    assert set(addresses()) == {"1001"}
    n = notice(include_print=True)
    assert {p.card_number for p in letters.print_audience(n)} == {"1001"}
