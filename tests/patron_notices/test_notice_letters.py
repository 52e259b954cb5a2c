"""Printed letters for patrons without an email address: one PDF per library, made in the
background, downloaded only by that library's people and the office."""

import io

import pytest
from allauth.mfa.models import Authenticator
from django.core.files.storage import FileSystemStorage
from pypdf import PdfReader

from plugins.patron_notices.models import LibraryParticipation, Notice, PostalAddress, PrintRun
from plugins.patron_notices.notices import letters
from plugins.patron_notices.notices import services as notices
from plugins.patron_notices.notices.tasks import plan_print_runs
from portal.audit.models import AuditEntry
from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories

from .conftest import KOHA_HEADER, koha_row, run_import
from .engine_support import notice, patron

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storage(tmp_path, monkeypatch):
    monkeypatch.setattr(PrintRun._meta.get_field("file"), "storage", FileSystemStorage(tmp_path))


def on_paper(library, card, first, last, lines, **fields):
    p = patron(library, card, "x@example.invalid", first=first, last_name=last, **fields)
    # No email address: the card exists only on paper.
    p.email, p.contact = "", None
    p.save(update_fields=["email", "contact"])
    PostalAddress.objects.create(patron=p, lines=lines)
    return p


@pytest.fixture
def audience(libs):
    on_paper(libs["main"], "M1", "Ada", "Okafor", "12 Elm Road\nSpringfield 01234")
    on_paper(libs["main"], "M2", "Cy", "Moss", "3 Oak Lane\nSpringfield 01235")
    on_paper(libs["east"], "E1", "Bo", "Ruiz", "7 Rue Haute\nEastham", language="fr")
    on_paper(libs["main"], "M3", "No", "Consent", "1 Nowhere", consent_given_at=None)
    plain = on_paper(libs["south"], "S1", "No", "Address", "x")
    PostalAddress.objects.filter(patron=plain).delete()
    patron(libs["main"], "M4", "dee@example.org", first="Dee")  # gets an email instead


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def start(n, capture):
    Notice.objects.filter(pk=n.pk).update(state=Notice.State.APPROVED)
    with capture(execute=True):
        notices.do_schedule_notice(None, Notice.objects.get(pk=n.pk))


def test_letters_per_library_in_the_patrons_language(
    libs, audience, django_capture_on_commit_callbacks
):
    n = notice(include_print=True)
    LibraryParticipation.objects.create(
        notice=n, library=libs["north"], decision="approved", local_paragraph="Open Sundays."
    )
    assert letters.count_letters(n) == 3
    start(n, django_capture_on_commit_callbacks)
    runs = {r.library.code: r for r in PrintRun.objects.select_related("library")}
    assert set(runs) == {"main", "east"}
    assert {r.state for r in runs.values()} == {"done"}
    assert (runs["main"].letters, runs["east"].letters) == (2, 1)
    main = runs["main"].file.read()
    assert len(PdfReader(io.BytesIO(main)).pages) == 2  # one page per letter
    text = pdf_text(main)
    for expected in ("Ada Okafor", "12 Elm Road", "Springfield 01234", "Cy Moss", "3 Oak Lane"):
        assert expected in text
    assert "Fines waived at Main" in text and "Dear Ada, fines are waived." in text
    assert "Open Sundays." in text
    assert "Consent" not in text and "Dee" not in text
    east = pdf_text(runs["east"].file.read())
    assert "Amendes annulées à East" in east and "Bonjour Bo" in east and "7 Rue Haute" in east
    # Planning again (a redelivered task) adds no run and renders nothing twice.
    assert plan_print_runs(n.pk) == 0
    assert PrintRun.objects.count() == 2


def test_without_print_no_letters(libs, audience, django_capture_on_commit_callbacks):
    start(notice(), django_capture_on_commit_callbacks)
    assert not PrintRun.objects.exists()


def test_only_the_librarys_people_and_the_office_download(
    client, libs, people, audience, django_capture_on_commit_callbacks
):
    n = notice(include_print=True)
    start(n, django_capture_on_commit_callbacks)
    run = PrintRun.objects.get(library=libs["main"])
    url = f"/patron-notices/print-runs/{run.pk}/letters.pdf"
    office = factories.member(libs["root"], CONSORTIUM_ADMIN, email="office@example.org")
    Authenticator.objects.create(user=office, type="totp", data={"secret": "x"})
    for user in (people["comms"], people["director"], office):  # north reaches its branch
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, user
        assert b"".join(response.streaming_content).startswith(b"%PDF")
    for user in (people["south_comms"], people["staff"]):
        client.force_login(user)
        assert client.get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302  # to sign in
    assert AuditEntry.objects.filter(action="patron_notices.letters_downloaded").count() == 3


def test_an_imported_koha_file_feeds_the_letters(people, libs, django_capture_on_commit_callbacks):
    """End to end: the ILS export's address columns become the letters' address blocks."""
    elm = {"address": "12 Elm Road", "address2": "Flat 3", "city": "Springfield"}
    elm |= {"state": "IL", "zipcode": "62701", "country": "USA"}
    nowhere = dict.fromkeys(elm, "")
    rows = [
        koha_row(1, "1001", "Okafor", "Ada", "", **elm),
        koha_row(2, "1002", "Ruiz", "Bo", "", branch="EAST", **{**nowhere, "address": "7 High St"}),
        # An email address: the notice reaches them by email, not on paper.
        koha_row(3, "1003", "Moss", "Cy", "cy@example.org", **{**elm, "address": "3 Ash Row"}),
        koha_row(4, "1004", "Nolan", "Dee", "", **nowhere),  # neither: nothing to send
    ]
    content = ("\n".join([KOHA_HEADER, *rows]) + "\n").encode()
    job = run_import(
        people["comms"], libs["north"], content, capture=django_capture_on_commit_callbacks
    )
    assert job.rows_imported == 4
    n = notice(include_print=True)
    start(n, django_capture_on_commit_callbacks)
    run = PrintRun.objects.get()
    assert (run.library, run.state, run.letters) == (libs["north"], PrintRun.State.DONE, 2)
    data = run.file.read()
    assert len(PdfReader(io.BytesIO(data)).pages) == 2
    text = pdf_text(data)
    for expected in (
        "Ada Okafor",
        "12 Elm Road",
        "Flat 3",
        "Springfield, IL 62701",
        "USA",
        "Bo Ruiz",
        "7 High St",
    ):
        assert expected in text
    assert "Dear Ada, fines are waived." in text
    for absent in ("Moss", "3 Ash Row", "Nolan", "Dee"):
        assert absent not in text
