"""Both import paths: set-based SQL on PostgreSQL and the ORM path the SQLite demo runs."""

import csv
import io

import pytest
from django.db import connection

from plugins.patron_notices.directory.importer import Importer
from plugins.patron_notices.models import Contact, ImportJob, ImportProblem, Patron

from .conftest import KOHA_HEADER, koha_row, run_import

pytestmark = pytest.mark.django_db

ENGINES = ["orm", "sql"] if connection.vendor == "postgresql" else ["orm"]


def koha_file(*rows) -> bytes:
    return ("\n".join([KOHA_HEADER, *rows]) + "\n").encode()


def run_with(engine, user, library, content, capture, **kwargs):
    """run_import, with the task's Importer pinned to one path."""
    original = Importer.__init__

    def pinned(self, job, *args, **kw):
        original(self, job, *args, **{**kw, "engine": engine})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Importer, "__init__", pinned)
        return run_import(user, library, content, capture=capture, **kwargs)


@pytest.mark.parametrize("engine", ENGINES)
def test_paths_agree_on_import_reimport_and_sync(
    engine, people, libs, django_capture_on_commit_callbacks
):
    rows = [
        koha_row(1, "1001", "Okafor", "Ada", "Ada@Example.org"),
        koha_row(2, "1002", "Smith, Jr.", "Bob", "bob@example.org", branch="EAST"),
        koha_row(3, "1003", "Lee", "Chen", "", attributes="NOTICES:0"),
    ]
    comms, north = people["comms"], libs["north"]
    job = run_with(engine, comms, north, koha_file(*rows), django_capture_on_commit_callbacks)
    assert (job.status, job.rows_imported, job.rows_invalid) == (ImportJob.Status.DONE, 3, 0)
    bob = Patron.objects.get(card_number="1002")
    assert (bob.last_name, bob.home_branch_id, str(bob.expires_on)) == (
        "Smith, Jr.",
        libs["east"].pk,
        "2027-12-31",
    )
    assert Patron.objects.get(card_number="1001").contact.email == "ada@example.org"
    assert Patron.objects.get(card_number="1001").consent_given_at is not None
    assert Patron.objects.get(card_number="1003").consent_given_at is None

    snapshot = list(Patron.objects.order_by("pk").values())
    run_with(engine, comms, north, koha_file(*rows), django_capture_on_commit_callbacks)
    assert list(Patron.objects.order_by("pk").values()) == snapshot  # nothing rewritten

    # Withdrawn consent and a changed name are written; the sync expires the card left out.
    changed = [
        koha_row(1, "1001", "Okafor", "Adaeze", "ada@example.org", attributes="NOTICES:0"),
        rows[1],
    ]
    job = run_with(
        engine,
        comms,
        north,
        koha_file(*changed),
        django_capture_on_commit_callbacks,
        full_sync=True,
    )
    ada = Patron.objects.get(card_number="1001")
    assert (ada.first_name, ada.consent_given_at) == ("Adaeze", None)
    assert ada.consent_source == f"import {job.pk}"
    assert job.rows_expired == 1
    assert Patron.objects.get(card_number="1003").expired_at is not None
    assert Contact.objects.count() == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicates_are_downloaded_with_their_row(
    engine, client, people, libs, django_capture_on_commit_callbacks
):
    dup = koha_row(9, "1001", "Dup", "Card, Again", "dup@example.org")
    content = (
        KOHA_HEADER
        + "\r\n"
        + koha_row(1, "1001", "Okafor", "Ada", "ada@example.org")  # line 2
        + "\r\n\r\n"  # line 3 blank
        + koha_row(2, "1002", "Müller", "Zoë", "z@example.org")  # line 4
        + "\r\n"
        + dup  # line 5
        + "\r\n"
    ).encode()
    job = run_with(
        engine, people["comms"], libs["north"], content, django_capture_on_commit_callbacks
    )
    assert job.rows_imported == 2 and job.rows_invalid == 1
    problem = ImportProblem.objects.get(job=job)
    assert (problem.line, problem.code) == (5, "card_duplicate")
    assert "line 2" in problem.message
    client.force_login(people["comms"])
    body = client.get(f"/patron-notices/imports/{job.pk}/problems.csv").content.decode()
    records = list(csv.reader(io.StringIO(body)))
    assert records[1][0] == "5"
    # The row as the file has it, quoted commas included, for the library to correct.
    assert list(csv.reader([records[1][3]])) == list(csv.reader([dup]))
    assert Patron.objects.get(card_number="1001").first_name == "Ada"


@pytest.mark.parametrize("engine", ENGINES)
def test_all_or_nothing_on_each_path(engine, people, libs, django_capture_on_commit_callbacks):
    content = koha_file(
        koha_row(1, "1001", "Okafor", "Ada", "ada@example.org"),
        koha_row(2, "1001", "Again", "Dup", "dup@example.org"),
    )
    job = run_with(
        engine,
        people["comms"],
        libs["north"],
        content,
        django_capture_on_commit_callbacks,
        mode="all_or_nothing",
    )
    assert job.status == ImportJob.Status.REJECTED
    assert not Patron.objects.exists() and not Contact.objects.exists()


def test_rows_of_another_width_take_the_careful_path(
    people, libs, django_capture_on_commit_callbacks
):
    """A short row (cells missing at the end) is still read; a row with no card is refused."""
    content = (
        b"card_number,first_name,last_name,email,branch\n"
        b"3001,Short,Row\n"  # line 2: three cells of five
        b"3002,Long,Row,l@example.org,main,extra\n"  # line 3: six cells
        b",No,Card,n@example.org,main\n"  # line 4
    )
    job = run_import(
        people["comms"],
        libs["north"],
        content,
        preset="generic",
        capture=django_capture_on_commit_callbacks,
    )
    assert job.rows_imported == 2
    assert Patron.objects.get(card_number="3001").last_name == "Row"
    assert Patron.objects.get(card_number="3002").email == "l@example.org"
    assert list(ImportProblem.objects.filter(job=job).values_list("line", "code")) == [
        (4, "card_missing")
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="operator classes are PostgreSQL's")
def test_unique_indexes_compare_bytes_and_still_arbitrate():
    """The contact's email and the card number are unique by indexes in byte order (the
    pattern operator class, not the database's collation): cheaper for an import's
    insertions, with the same equality, so lookups by address or card still use them and
    ON CONFLICT still finds them."""
    contacts, patrons = Contact._meta.db_table, Patron._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE indexname IN ('one_contact_per_email', 'one_card_per_library')"
        )
        definitions = dict(cursor.fetchall())
        assert definitions["one_contact_per_email"] == (
            f"CREATE UNIQUE INDEX one_contact_per_email ON public.{contacts}"
            " USING btree (email varchar_pattern_ops)"
        )
        assert definitions["one_card_per_library"] == (
            f"CREATE UNIQUE INDEX one_card_per_library ON public.{patrons}"
            " USING btree (library_id, card_number varchar_pattern_ops)"
        )

        def plan(sql, args=()):
            cursor.execute("EXPLAIN (COSTS OFF) " + sql, args)
            return "\n".join(row[0] for row in cursor.fetchall())

        cursor.execute("SET LOCAL enable_seqscan = off")
        lookup = f"SELECT id FROM {contacts} WHERE email = %s::text"  # noqa: S608
        assert "one_contact_per_email" in plan(lookup, ["ada@example.org"])
        card = f"SELECT id FROM {patrons} WHERE library_id = 1 AND card_number = %s"  # noqa: S608
        assert "one_card_per_library" in plan(card, ["1001"])
        insert = (
            f"INSERT INTO {contacts} (email, language, notice_kinds, created_at)"  # noqa: S608
            " VALUES ('ada@example.org', '', '[]', now()) ON CONFLICT (email) DO NOTHING"
        )
        assert "Conflict Arbiter Indexes: one_contact_per_email" in plan(insert)
