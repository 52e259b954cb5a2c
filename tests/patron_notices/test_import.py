"""The CSV import: validation with file lines, modes, idempotent re-import, contacts, sync."""

import pytest

from plugins.patron_notices.models import Contact, ImportJob, ImportProblem, Patron

from .conftest import KOHA_HEADER, koha_row, run_import

pytestmark = pytest.mark.django_db


def koha_file(*rows) -> bytes:
    return ("\n".join([KOHA_HEADER, *rows]) + "\n").encode()


GOOD = [
    koha_row(1, "1001", "Okafor", "Ada", "ada@example.org"),
    koha_row(2, "1002", "Smith, Jr.", "Bob", "BOB@Example.org", branch="EAST"),
    koha_row(3, "1003", "Lee", "Chen", "", attributes="NOTICES:0,LANG:en"),
]


def test_real_koha_export_is_imported(people, libs, django_capture_on_commit_callbacks):
    job = run_import(
        people["comms"], libs["north"], koha_file(*GOOD), capture=django_capture_on_commit_callbacks
    )
    assert job.status == ImportJob.Status.DONE
    assert (job.rows_read, job.rows_imported, job.rows_invalid) == (3, 3, 0)
    bob = Patron.objects.get(card_number="1002")
    assert (bob.last_name, bob.first_name, bob.email) == ("Smith, Jr.", "Bob", "BOB@Example.org")
    assert bob.home_branch == libs["east"]
    assert bob.phone == "555-0100" and bob.category == "PT"
    assert str(bob.expires_on) == "2027-12-31"
    assert bob.contact.email == "bob@example.org"
    ada = Patron.objects.get(card_number="1001")
    assert ada.consent_given_at is not None and ada.consent_source == f"import {job.pk}"
    assert Patron.objects.get(card_number="1003").consent_given_at is None
    assert Patron.objects.get(card_number="1003").contact is None


def test_each_validation_error_names_line_and_column(
    people, libs, django_capture_on_commit_callbacks
):
    content = koha_file(
        GOOD[0],  # line 2
        koha_row(5, "", "NoCard", "X", "x@example.org"),  # line 3
        koha_row(6, "1006", "Bad", "Email", "not-an-email"),  # line 4
        koha_row(7, "1007", "Far", "Away", "f@example.org", branch="NOWHERE"),  # line 5
        koha_row(8, "1008", "Bad", "Date", "d@example.org", expiry="31/12/2027"),  # line 6
        koha_row(9, "1001", "Dup", "Card", "dup@example.org"),  # line 7
    )
    job = run_import(
        people["comms"], libs["north"], content, capture=django_capture_on_commit_callbacks
    )
    problems = {(p.line, p.column, p.code) for p in ImportProblem.objects.filter(job=job)}
    assert problems == {
        (3, "cardnumber", "card_missing"),
        (4, "email", "email_invalid"),
        (5, "branchcode", "branch_unknown"),
        (6, "dateexpiry", "date_invalid"),
        (7, "cardnumber", "card_duplicate"),
    }
    dup = ImportProblem.objects.get(job=job, code="card_duplicate")
    assert "line 2" in dup.message
    # Valid-rows mode: the good row went in, the first card 1001 kept its first row's data.
    assert list(Patron.objects.values_list("card_number", "last_name")) == [("1001", "Okafor")]
    assert job.rows_invalid == 5 and job.status == ImportJob.Status.DONE
    # Problems never quote the patron in their message.
    assert not ImportProblem.objects.filter(message__icontains="not-an-email").exists()


def test_all_or_nothing_leaves_the_database_unchanged(
    people, libs, django_capture_on_commit_callbacks
):
    run_import(
        people["comms"],
        libs["north"],
        koha_file(GOOD[0]),
        capture=django_capture_on_commit_callbacks,
    )
    before = list(Patron.objects.values_list("card_number", "first_name", "email", "updated_at"))
    contacts = Contact.objects.count()
    changed = koha_row(1, "1001", "Okafor", "Adaeze", "new@example.org")
    job = run_import(
        people["comms"],
        libs["north"],
        koha_file(changed, GOOD[1], koha_row(9, "1009", "X", "Y", "bad@")),
        mode="all_or_nothing",
        full_sync=True,
        capture=django_capture_on_commit_callbacks,
    )
    assert job.status == ImportJob.Status.REJECTED
    assert job.rows_imported == 0 and job.rows_invalid == 1
    after = list(Patron.objects.values_list("card_number", "first_name", "email", "updated_at"))
    assert after == before
    assert Contact.objects.count() == contacts


def test_reimport_is_idempotent_and_updates(people, libs, django_capture_on_commit_callbacks):
    content = koha_file(*GOOD)
    run_import(people["comms"], libs["north"], content, capture=django_capture_on_commit_callbacks)
    snapshot = list(Patron.objects.order_by("pk").values())
    job = run_import(
        people["comms"], libs["north"], content, capture=django_capture_on_commit_callbacks
    )
    assert job.status == ImportJob.Status.DONE
    assert list(Patron.objects.order_by("pk").values()) == snapshot  # nothing rewritten
    assert Contact.objects.count() == 2
    changed = koha_file(koha_row(1, "1001", "Okafor", "Adaeze", "ada@example.org"), *GOOD[1:])
    run_import(people["comms"], libs["north"], changed, capture=django_capture_on_commit_callbacks)
    assert Patron.objects.count() == 3
    assert Patron.objects.get(card_number="1001").first_name == "Adaeze"


def test_reimport_mends_contacts_and_adds_new_cards(
    people, libs, django_capture_on_commit_callbacks
):
    content = koha_file(*GOOD)
    run_import(people["comms"], libs["north"], content, capture=django_capture_on_commit_callbacks)
    # A patron whose contact went missing, and one with a contact left over without an
    # email: the same file puts both right, and only them.
    Patron.objects.filter(card_number="1001").update(contact=None)
    stray = Contact.objects.create(email="stray@example.org")
    Patron.objects.filter(card_number="1003").update(contact=stray)
    untouched = Patron.objects.get(card_number="1002").updated_at
    added = koha_row(4, "1004", "New", "Dee", "Dee@Example.org")
    run_import(
        people["comms"],
        libs["north"],
        koha_file(*GOOD, added),
        capture=django_capture_on_commit_callbacks,
    )
    patrons = {p.card_number: p for p in Patron.objects.select_related("contact")}
    assert patrons["1001"].contact.email == "ada@example.org"
    assert patrons["1003"].contact is None
    assert patrons["1002"].updated_at == untouched
    assert patrons["1004"].contact.email == "dee@example.org"
    assert patrons["1004"].first_name == "Dee"


def test_contacts_are_one_per_address_across_libraries(
    people, libs, django_capture_on_commit_callbacks
):
    from tests import factories

    south_comms = people["south_comms"]
    run_import(
        people["comms"],
        libs["north"],
        koha_file(GOOD[0]),
        capture=django_capture_on_commit_callbacks,
    )
    south_row = koha_row(1, "S-77", "Okafor", "Ada", " Ada@EXAMPLE.org ", branch="")
    run_import(
        south_comms, libs["south"], koha_file(south_row), capture=django_capture_on_commit_callbacks
    )
    assert Patron.objects.count() == 2
    assert Contact.objects.count() == 1
    contact = Contact.objects.get()
    assert contact.email == "ada@example.org"
    assert set(contact.patrons.values_list("library__code", flat=True)) == {"north", "south"}
    assert factories  # the factories module builds the libraries via fixtures


def test_full_sync_expires_removed_patrons_and_revives_returning_ones(
    people, libs, django_capture_on_commit_callbacks
):
    run_import(
        people["comms"], libs["north"], koha_file(*GOOD), capture=django_capture_on_commit_callbacks
    )
    job = run_import(
        people["comms"],
        libs["north"],
        koha_file(GOOD[0]),
        full_sync=True,
        capture=django_capture_on_commit_callbacks,
    )
    assert job.rows_expired == 2
    assert set(
        Patron.objects.filter(expired_at__isnull=False).values_list("card_number", flat=True)
    ) == {"1002", "1003"}
    run_import(
        people["comms"],
        libs["north"],
        koha_file(*GOOD[:2]),
        capture=django_capture_on_commit_callbacks,
    )
    assert Patron.objects.get(card_number="1002").expired_at is None


def test_messy_file(people, libs, django_capture_on_commit_callbacks):
    """BOM, Latin-1 lines, blank lines, quoted commas and newlines, duplicates, CRLF."""
    header = "card_number,first_name,last_name,email,branch\r\n"
    content = (
        b"\xef\xbb\xbf"
        + header.encode()
        + b"\r\n"  # line 2 blank
        + '2001,Zoë,"O\'Brien, Jr.",zoe@example.org,main\r\n'.encode()  # line 3 UTF-8
        + "2002,Hélène,Müller,helene@example.org,EAST\r\n".encode("latin-1")  # line 4 Latin-1
        + b"\r\n\r\n"  # lines 5-6 blank
        + b'2003,"Multi\nLine",Name,m@example.org,main\r\n'  # lines 7-8
        + b"2001,Again,Dup,again@example.org,main\r\n"  # line 9 duplicate
        + b"   \r\n"  # line 10 blank-ish
    )
    job = run_import(
        people["comms"],
        libs["north"],
        content,
        preset="generic",
        capture=django_capture_on_commit_callbacks,
    )
    assert job.status == ImportJob.Status.DONE
    assert job.rows_imported == 3
    assert Patron.objects.get(card_number="2001").last_name == "O'Brien, Jr."
    assert Patron.objects.get(card_number="2001").first_name == "Zoë"
    helene = Patron.objects.get(card_number="2002")
    assert (helene.first_name, helene.last_name) == ("Hélène", "Müller")
    assert Patron.objects.get(card_number="2003").first_name == "Multi\nLine"
    problem = ImportProblem.objects.get(job=job)
    assert (problem.line, problem.code) == (9, "card_duplicate")
    assert "line 3" in problem.message


def test_evergreen_preset_and_refusal_without_card_column(
    people, libs, django_capture_on_commit_callbacks
):
    content = (
        b"barcode,first_given_name,family_name,email,day_phone,home_library,profile,expire_date\n"
        b"EG1,Ana,Silva,ana@example.org,555,MAIN,Adult,2028-01-01\n"
    )
    job = run_import(
        people["comms"],
        libs["north"],
        content,
        preset="evergreen",
        capture=django_capture_on_commit_callbacks,
    )
    assert job.rows_imported == 1
    ana = Patron.objects.get(card_number="EG1")
    assert (ana.last_name, ana.category, ana.home_branch_id) == ("Silva", "Adult", libs["main"].pk)
    job = run_import(
        people["comms"],
        libs["north"],
        b"name,email\nX,x@example.org\n",
        preset="generic",
        mapping={"card_number": "name"},
        capture=django_capture_on_commit_callbacks,
    )
    assert job.status == ImportJob.Status.DONE  # mapped by hand: the name column as cards
