"""The patron notices' PDFs (the printed letters, a library's delivery report) are tagged
PDF/UA-1 in the letters' language and pass an independent PDF/UA checker."""

import pytest

from plugins.patron_notices.models import Delivery, LibraryParticipation, Notice, PrintRun
from tests.pdf_ua import assert_accessible_pdf

from .engine_support import notice, patron
from .test_notice_letters import audience, start, storage  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_printed_letters(libs, audience, django_capture_on_commit_callbacks, tmp_path):  # noqa: F811
    n = notice(include_print=True)
    LibraryParticipation.objects.create(
        notice=n, library=libs["north"], decision="approved", local_paragraph="Open Sundays."
    )
    start(n, django_capture_on_commit_callbacks)
    runs = {r.library.code: r for r in PrintRun.objects.select_related("library")}
    assert_accessible_pdf(runs["main"].file.read(), tmp_path, "letters-en", title="Closure · Main")
    assert_accessible_pdf(
        runs["east"].file.read(), tmp_path, "letters-fr", title="Closure · East", lang="fr"
    )


def test_delivery_report(client, libs, people, tmp_path):
    n = notice(state=Notice.State.DONE)
    for i, (lib, row_state) in enumerate([("main", "sent"), ("east", "failed"), ("south", "sent")]):
        p = patron(libs[lib], f"R{i}", f"r{i}@example.net")
        Delivery.objects.create(
            notice=n, contact=p.contact, patron=p, library=libs[lib], language="en", state=row_state
        )
    client.force_login(people["director"])
    pdf = client.get(f"/patron-notices/notices/{n.pk}/libraries/north/report.pdf").content
    assert_accessible_pdf(pdf, tmp_path, "delivery-report", title="Closure · North System")
