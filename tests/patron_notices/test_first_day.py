"""What a consortium meets on its first day with notices: a failure in the background is
shown on the notice's page, test copies are distinct messages, a patron without a first
name is greeted sensibly, and member libraries decide only on what the office approved."""

import pytest
from django.core import mail
from django.db import OperationalError

from plugins.patron_notices.models import Notice
from plugins.patron_notices.notices import tasks
from portal.models import TaskProblem
from tests import factories

from .engine_support import notice, patron
from .test_notice_admin import office_member

pytestmark = pytest.mark.django_db


START = "plugins.patron_notices.notices.services.do_start_sending"


def test_a_failed_start_shows_on_the_notice_page_until_it_works(client, libs, monkeypatch):
    office = office_member(libs, "office@example.org")
    n = notice(author=office, state=Notice.State.SCHEDULED)

    def broken(notice_id):
        raise OperationalError('near "DO": syntax error')

    monkeypatch.setattr(START, broken)
    # As a worker runs it: the failure is caught, signalled and recorded, twice.
    assert tasks.start_notice.apply(args=(n.pk,), throw=False).failed()
    assert tasks.start_notice.apply(args=(n.pk,), throw=False).failed()

    problem = TaskProblem.objects.get()
    assert (problem.subject, problem.failures) == (f"notice:{n.pk}", 2)
    client.force_login(office)
    page = client.get(f"/admin/notices/{n.pk}/manage/").content.decode()
    assert "Something went wrong in the background" in page
    assert "The database refused the work" in page and "syntax error" in page
    assert "Failed 2 times" in page

    monkeypatch.setattr(START, lambda notice_id: 0)
    assert tasks.start_notice.apply(args=(n.pk,), throw=False).successful()
    assert TaskProblem.objects.get().resolved_at is not None
    page = client.get(f"/admin/notices/{n.pk}/manage/").content.decode()
    assert "Something went wrong in the background" not in page


def test_test_copies_are_distinct_messages_and_a_missing_first_name_reads_well(libs):
    from plugins.patron_notices.notices import sending

    office = office_member(libs, "office@example.org")
    n = notice(author=office)
    sending.send_test(n, libs["main"], "en", ["a@example.org", "b@example.org"])
    ids = {m.extra_headers["Message-ID"] for m in mail.outbox}
    assert len(ids) == 2
    assert all("Dear reader," in m.body for m in mail.outbox)
    assert not any("Dear ," in m.body for m in mail.outbox)


def test_a_patron_without_a_first_name_is_greeted_as_reader(libs):
    from plugins.patron_notices.notices import leases, rendering

    row = leases.Row(1, libs["main"].pk, "en", 0, "x@example.org", "  ")
    assert rendering.first_name_of(row) == "reader"
    named = leases.Row(1, libs["main"].pk, "en", 0, "x@example.org", "Ana")
    assert rendering.first_name_of(named) == "Ana"
    patron(libs["main"], "C1", "x@example.org")  # the fixture's patron has no first name


def test_directors_see_approved_notices_not_drafts(client, libs, people):
    office = office_member(libs, "office@example.org")
    draft = notice(author=office, title="Still a draft")
    approved = notice(author=office, title="Approved one", state=Notice.State.APPROVED)
    client.force_login(people["director"])
    page = client.get("/patron-notices/notices/").content.decode()
    assert approved.title in page
    assert draft.title not in page
    assert "Until it is sent" not in page
    assert "Before the office sends it" in page
    refused = client.post(
        f"/patron-notices/notices/{draft.pk}/libraries/north/",
        {"decision": "approved", "local_paragraph": ""},
    )
    assert "not approved yet" in refused.content.decode()


def test_the_decision_page_frames_the_branded_message_with_the_local_paragraph(
    client, libs, people
):
    from plugins.patron_notices.models import LibraryParticipation

    office = office_member(libs, "office@example.org")
    n = notice(author=office, state=Notice.State.APPROVED)
    LibraryParticipation.objects.create(
        notice=n, library=libs["north"], decision="approved", local_paragraph="Open till 8."
    )
    client.force_login(people["director"])
    page = client.get(f"/patron-notices/notices/{n.pk}/libraries/north/").content.decode()
    assert f"/patron-notices/notices/{n.pk}/libraries/north/message/" in page
    assert "<pre" not in page
    message = client.get(f"/patron-notices/notices/{n.pk}/libraries/north/message/")
    assert message.status_code == 200
    assert "Open till 8." in message.content.decode()
    assert "frame-ancestors 'self'" in message["Content-Security-Policy"]
    other = factories.member(libs["south"], "director", email="south@example.org")
    other.authenticator_set.create(type="totp", data={"secret": "x"})
    client.force_login(other)
    assert client.get(f"/patron-notices/notices/{n.pk}/libraries/north/message/").status_code == 403


def test_a_digest_that_could_not_be_sent_shows_on_the_persons_preferences(client, people):
    """The digest is a person's: its failure shows where they choose how it comes."""
    import smtplib

    from portal import background

    staff = people["staff"]
    client.force_login(staff)
    assert "Something went wrong" not in client.get("/announcements/preferences/").content.decode()
    background.record_failure(
        "announcements.send_digest",
        background.subject_of("digest", staff.pk),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    )
    page = client.get("/announcements/preferences/").content.decode()
    assert "The mail server could not be reached" in page
    other = people["comms"]
    client.force_login(other)
    assert "Something went wrong" not in client.get("/announcements/preferences/").content.decode()
