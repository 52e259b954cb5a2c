"""A library's first import on PostgreSQL: patron ids taken while staging, contacts added
by a plain insert (and again with ON CONFLICT when another writer got there first)."""

import threading

import pytest
from django.db import connection, transaction

from plugins.patron_notices.directory import services as directory_services
from plugins.patron_notices.directory import tasks as directory_tasks
from plugins.patron_notices.directory.postgres_writer import PostgresUpsert
from plugins.patron_notices.models import (
    Contact,
    ImportJob,
    ImportProblem,
    Patron,
    PostalAddress,
)

from .conftest import KOHA_HEADER, koha_row, run_import

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based SQL path"),
]


def koha_file(*rows) -> bytes:
    return ("\n".join([KOHA_HEADER, *rows]) + "\n").encode()


def street(address: str) -> dict:
    return {"address": address, "city": "Springfield", "zipcode": "62701"}


NOWHERE = {"address": "", "city": ""}

FIRST = [
    koha_row(1, "1001", "Okafor", "Ada", "ada@example.org", **street("1 Elm Road")),
    koha_row(2, "1002", "Lee", "Chen", "", branch="NOWHERE", **street("2 Elm Road")),
    koha_row(3, "1001", "Okafor", "Ada", "", **street("3 Elm Road")),  # the card again
    koha_row(4, "1003", "Moss", "Cy", "CY@example.org", **street("4 Elm Road")),
    # No address, and an email another card has.
    koha_row(5, "1004", "Ruiz", "Bo", "ada@example.org", **NOWHERE),
    koha_row(6, "1005", "Park", "Di", "", **street("6 Elm Road")),
]


def addresses() -> dict[str, str]:
    return dict(PostalAddress.objects.values_list("patron__card_number", "lines"))


def patrons_by_card() -> dict[str, Patron]:
    return {p.card_number: p for p in Patron.objects.select_related("contact")}


def assert_first_import(job):
    assert job.status == ImportJob.Status.DONE
    assert (job.rows_read, job.rows_imported, job.rows_invalid) == (6, 4, 2)
    assert list(ImportProblem.objects.filter(job=job).values_list("line", "code")) == [
        (3, "branch_unknown"),
        (4, "card_duplicate"),
    ]
    # Each address went to the patron of its own row: the rows left out between them
    # (refused, repeated) took no patron's place.
    assert addresses() == {
        "1001": "1 Elm Road\nSpringfield 62701",
        "1003": "4 Elm Road\nSpringfield 62701",
        "1005": "6 Elm Road\nSpringfield 62701",
    }
    patrons = patrons_by_card()
    assert [p.card_number for p in Patron.objects.order_by("pk")] == [
        "1001",
        "1003",
        "1004",
        "1005",
    ]
    assert patrons["1001"].contact == patrons["1004"].contact
    assert patrons["1001"].contact.email == "ada@example.org"
    assert patrons["1003"].contact.email == "cy@example.org"
    assert patrons["1005"].contact is None
    assert Contact.objects.count() == 2


def reimport_and_check(people, libs, capture):
    """A re-import of the first file with a change, a removal and a new card."""
    changed = [
        koha_row(1, "1001", "Okafor", "Ada", "ada@example.org", **street("1 Elm Road")),
        koha_row(2, "1003", "Moss", "Cy", "cy@example.org", **street("40 Elm Road")),
        koha_row(3, "1004", "Ruiz", "Bo", "bo@example.org", **NOWHERE),
        koha_row(4, "1005", "Park", "Di", "", **NOWHERE),  # moved away
        koha_row(5, "1006", "Ng", "Ed", "ed@example.org", **street("7 Elm Road")),
    ]
    kept = Patron.objects.get(card_number="1001").pk
    job = run_import(people["comms"], libs["north"], koha_file(*changed), capture=capture)
    assert job.status == ImportJob.Status.DONE and job.rows_imported == 5
    assert addresses() == {
        "1001": "1 Elm Road\nSpringfield 62701",
        "1003": "40 Elm Road\nSpringfield 62701",
        "1006": "7 Elm Road\nSpringfield 62701",
    }
    patrons = patrons_by_card()
    assert patrons["1001"].pk == kept
    assert patrons["1004"].contact.email == "bo@example.org"
    assert patrons["1006"].contact.email == "ed@example.org"
    assert Patron.objects.count() == 5


def test_first_import_then_reimport(people, libs, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    job = run_import(people["comms"], libs["north"], koha_file(*FIRST), capture=capture)
    assert_first_import(job)
    reimport_and_check(people, libs, capture)


def answer_once(monkeypatch, answer: bool):
    """The check made before staging answers ``answer``; the one under the lock, the truth:
    as if another writer added or removed the library's patrons in between."""
    original = PostgresUpsert._has_patrons
    calls = []

    def has_patrons(self, cursor):
        calls.append(answer)
        return answer if len(calls) == 1 else original(self, cursor)

    monkeypatch.setattr(PostgresUpsert, "_has_patrons", has_patrons)
    return calls


def test_patrons_gone_before_the_lock_take_their_ids_when_written(
    people, libs, django_capture_on_commit_callbacks, monkeypatch
):
    calls = answer_once(monkeypatch, True)
    capture = django_capture_on_commit_callbacks
    job = run_import(people["comms"], libs["north"], koha_file(*FIRST), capture=capture)
    assert len(calls) == 2
    assert_first_import(job)


def test_patrons_added_before_the_lock_make_it_a_reimport(
    people, libs, django_capture_on_commit_callbacks, monkeypatch
):
    capture = django_capture_on_commit_callbacks
    run_import(people["comms"], libs["north"], koha_file(*FIRST), capture=capture)
    calls = answer_once(monkeypatch, False)
    reimport_and_check(people, libs, capture)
    assert len(calls) == 2


def import_recording(people, libs, content: bytes, capture) -> tuple[ImportJob, list[str]]:
    """North's import of ``content``, with the SQL it ran."""
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        job = run_import(people["comms"], libs["north"], content, capture=capture)
    return job, statements


def backends_waiting_to_add_contacts(cursor) -> int:
    # Inside a transaction the activity view is read once unless its snapshot is dropped.
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
        [f"INSERT INTO {Contact._meta.db_table}%"],
    )
    return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_an_address_another_writer_adds_meanwhile_is_linked(
    people, libs, django_capture_on_commit_callbacks
):
    """Another library's import adds ada@ while this one inserts its new contacts: the plain
    insert waits for it, fails on the unique address, and the ON CONFLICT form links the
    patron to the other writer's contact; nothing is refused."""
    added = threading.Event()
    outcome = {}

    def other_writer():
        try:
            with transaction.atomic():
                outcome["contact"] = Contact.objects.create(email="ada@example.org").pk
                added.set()
                with connection.cursor() as cursor:
                    for _attempt in range(600):
                        if backends_waiting_to_add_contacts(cursor):
                            outcome["waited"] = True
                            break
                        threading.Event().wait(0.05)
        finally:
            added.set()
            connection.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert added.wait(30)
    job, statements = import_recording(
        people, libs, koha_file(*FIRST), django_capture_on_commit_callbacks
    )
    thread.join(30)
    assert outcome.get("waited")
    assert any("ON CONFLICT (email) DO NOTHING" in sql for sql in statements)
    assert_first_import(job)
    assert Patron.objects.get(card_number="1001").contact_id == outcome["contact"]


@pytest.mark.django_db(transaction=True)
def test_two_libraries_importing_the_same_contacts_at_once(
    people, libs, django_capture_on_commit_callbacks, monkeypatch
):
    """Both imports insert their new contacts at the same moment, in opposite orders: one
    waits for the other, or PostgreSQL breaks the deadlock by failing one's statement,
    which is then run again with ON CONFLICT. Both finish; each address is one contact."""
    emails = [f"p{n}@example.org" for n in range(1000)]
    north = [koha_row(n, f"N{n}", "N", "P", email) for n, email in enumerate(emails)]
    # South lists them in the opposite order, and some of its own.
    south = [
        koha_row(n, f"S{n}", "S", "P", email, branch="")
        for n, email in enumerate([*reversed(emails), "s1@example.org", "s2@example.org"])
    ]
    together = threading.Barrier(2, timeout=30)
    original = PostgresUpsert._contacts

    def contacts_together(self, cursor, now):
        together.wait()
        return original(self, cursor, now)

    monkeypatch.setattr(PostgresUpsert, "_contacts", contacts_together)
    # Both queued here (the task not sent), then each run by the task in a thread of its own.
    monkeypatch.setattr(directory_services, "enqueue", lambda task, *args, **options: None)
    queued = {}
    for name, user, rows in (("north", "comms", north), ("south", "south_comms", south)):
        capture = django_capture_on_commit_callbacks
        queued[name] = run_import(people[user], libs[name], koha_file(*rows), capture=capture).pk
    outcomes, errors = {}, []

    def run(name):
        try:
            outcomes[name] = directory_tasks.run_import(queued[name])
        except Exception as exc:  # noqa: BLE001 - reported below, beside the other thread's
            errors.append(exc)
            together.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in queued]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert outcomes == {"north": ImportJob.Status.DONE, "south": ImportJob.Status.DONE}
    assert Contact.objects.count() == 1002
    assert Patron.objects.filter(contact=None).count() == 0
    for contact in Contact.objects.filter(email__in=emails):
        assert sorted(contact.patrons.values_list("library__code", flat=True)) == [
            "north",
            "south",
        ]


def test_cards_in_order_need_no_search_for_repeats(
    people, libs, django_capture_on_commit_callbacks
):
    """A file sorted by card (shorter before longer) cannot repeat one, so the search for
    repeated cards is skipped; a card equal to the one before ends the order, and the
    search finds it as it finds any other."""

    def run(*cards):
        rows = [koha_row(n, card, "Okafor", "Ada", "") for n, card in enumerate(cards)]
        job, statements = import_recording(
            people, libs, koha_file(*rows), django_capture_on_commit_callbacks
        )
        searched = any("HAVING count(*) > 1" in sql for sql in statements)
        problems = list(ImportProblem.objects.filter(job=job).values_list("line", "code"))
        return job, searched, problems

    job, searched, problems = run("9", "10", "11", "A1", "B1")
    assert (job.rows_imported, searched, problems) == (5, False, [])
    job, searched, problems = run("20", "21", "21", "22")
    assert (job.rows_imported, searched, problems) == (3, True, [(4, "card_duplicate")])
    job, searched, problems = run("31", "30", "31")
    assert (job.rows_imported, searched, problems) == (2, True, [(4, "card_duplicate")])
    assert Patron.objects.count() == 5 + 3 + 2
