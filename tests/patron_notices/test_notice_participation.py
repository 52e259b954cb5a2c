"""Member libraries take part in a notice before its deadline, and get a delivery report;
each only for its own library (a system's people for its branches too)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from plugins.patron_notices.models import Delivery, LibraryParticipation, Notice
from plugins.patron_notices.notices.planning import do_plan

from .engine_support import notice, patron

pytestmark = pytest.mark.django_db


def url(n, library):
    return f"/patron-notices/notices/{n.pk}/libraries/{library.code}/"


def test_communications_lists_and_decides_for_its_own_library(client, libs, people):
    n = notice(state=Notice.State.APPROVED)
    client.force_login(people["comms"])
    listing = client.get("/patron-notices/notices/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert f'data-library="{libs["north"].code}"' in body
    assert f'data-library="{libs["south"].code}"' not in body  # another member's
    page = client.get(url(n, libs["north"]))
    assert page.status_code == 200 and "Fines waived at North System" in page.content.decode()
    response = client.post(
        url(n, libs["north"]), {"decision": "approved", "local_paragraph": "Open 9-5."}
    )
    assert response.status_code == 302
    taken = LibraryParticipation.objects.get(notice=n, library=libs["north"])
    assert (taken.decision, taken.local_paragraph, taken.decided_by) == (
        "approved",
        "Open 9-5.",
        people["comms"],
    )


def test_a_library_cannot_act_for_another(client, libs, people):
    n = notice(state=Notice.State.APPROVED)
    client.force_login(people["south_comms"])
    assert client.get(url(n, libs["north"])).status_code == 403
    post = client.post(url(n, libs["main"]), {"decision": "opted_out"})
    assert post.status_code == 403
    assert not LibraryParticipation.objects.exists()
    assert client.get(f"{url(n, libs['north'])}report.pdf").status_code == 403
    client.force_login(people["staff"])  # staff of the right library hold no such right
    assert client.get(url(n, libs["north"])).status_code == 403
    assert client.get("/patron-notices/notices/").status_code == 403


def test_after_the_deadline_nothing_changes(client, libs, people):
    n = notice(
        state=Notice.State.SCHEDULED,
        participation_deadline=timezone.now() - timedelta(minutes=1),
    )
    client.force_login(people["comms"])
    assert client.get("/patron-notices/notices/").content.count(b"data-notice=") == 0
    client.post(url(n, libs["north"]), {"decision": "opted_out"})
    assert not LibraryParticipation.objects.exists()


def test_an_opt_out_and_a_local_paragraph_reach_planning_and_the_message(client, libs, people):
    n = notice(state=Notice.State.APPROVED)
    patron(libs["main"], "M1", "m1@example.net")  # a branch of North
    patron(libs["south"], "S1", "s1@example.net")
    client.force_login(people["south_comms"])
    client.post(url(n, libs["south"]), {"decision": "approved", "local_paragraph": "Sundays!"})
    client.force_login(people["director"])
    client.post(url(n, libs["north"]), {"decision": "opted_out"})
    assert do_plan(Notice.objects.get(pk=n.pk)) == 1
    assert Delivery.objects.get(notice=n).library == libs["south"]
    client.force_login(people["south_comms"])
    assert "Sundays!" in client.get(url(n, libs["south"])).content.decode()


def test_the_office_sees_what_each_library_did(client, libs, people):
    from allauth.mfa.models import Authenticator

    from portal.members.roles import CONSORTIUM_ADMIN
    from tests import factories

    office = factories.member(libs["root"], CONSORTIUM_ADMIN, email="office@example.org")
    Authenticator.objects.create(user=office, type="totp", data={"secret": "x"})
    n = notice(state=Notice.State.APPROVED)
    client.force_login(people["comms"])
    client.post(url(n, libs["north"]), {"decision": "approved", "local_paragraph": "Hours: 9-5"})
    client.force_login(office)
    page = client.get(f"/admin/notices/{n.pk}/manage/").content.decode()
    assert "North System" in page and "Hours: 9-5" in page
    assert "Approved for our patrons" in page


def test_delivery_report_pdf_for_the_librarys_board(client, libs, people):
    n = notice(state=Notice.State.DONE)
    for i, (lib, row_state) in enumerate([("main", "sent"), ("east", "failed"), ("south", "sent")]):
        p = patron(libs[lib], f"R{i}", f"r{i}@example.net")
        Delivery.objects.create(
            notice=n, contact=p.contact, patron=p, library=libs[lib], language="en", state=row_state
        )
    client.force_login(people["director"])
    response = client.get(f"{url(n, libs['north'])}report.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    from plugins.patron_notices.notices.selectors import library_report

    report = library_report(n, libs["north"])  # what the PDF shows: North and its branches
    assert report["total"] == 2 and report["counts"]["sent"] == 1
    assert report["counts"]["failed"] == 1
