"""Reminders (grouped, once per window, idempotent) and the PDFs."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from knowledge_base.policies.models import ReminderSent
from knowledge_base.policies.services.acknowledgement import check_acknowledge, do_acknowledge
from knowledge_base.policies.services.reminders import plan_acknowledgement_reminders
from knowledge_base.policies.views.documents import manual_context
from portal.members.roles import STAFF
from portal.pdf import render_pdf
from portal.signals import periodic
from tests import factories

from .conftest import new_policy

pytestmark = pytest.mark.django_db


def test_one_grouped_reminder_per_person_and_none_on_a_second_run(
    consortium, library_page, django_capture_on_commit_callbacks
):
    new_policy(library_page, acknowledgement_days=5)
    new_policy(library_page, code="PRIV-001", title="Patron privacy", acknowledgement_days=5)
    lagging = factories.member(consortium["systems"][0], STAFF, email="lagging@example.org")
    done = factories.member(consortium["systems"][1], STAFF, email="done@example.org")
    for code in ("CIRC-004", "PRIV-001"):
        from knowledge_base.policies.models import PolicyPage

        version, library = check_acknowledge(done, PolicyPage.objects.get(code=code))
        do_acknowledge(done, version, library)

    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())  # a second beat: nothing new
    assert [m.to for m in mail.outbox] == [[lagging.email]]
    assert "CIRC-004" in mail.outbox[0].body and "PRIV-001" in mail.outbox[0].body
    assert ReminderSent.objects.filter(kind="acknowledge").count() == 1
    # Three days later the window moves on and the person is reminded again.
    later = timezone.localdate() + datetime.timedelta(days=3)
    assert plan_acknowledgement_reminders(later) == [lagging.pk]


def test_no_reminder_while_the_due_date_is_far(consortium, library_page):
    new_policy(library_page, acknowledgement_days=30)
    factories.member(consortium["systems"][0], STAFF)
    assert plan_acknowledgement_reminders() == []


def test_review_reminder_goes_to_the_owner_once(
    consortium, library_page, django_capture_on_commit_callbacks
):
    owner = factories.member(consortium["root"], STAFF, email="owner@example.org")
    page = new_policy(library_page, policy_owner=owner)
    soon = timezone.localdate() + datetime.timedelta(days=10)
    type(page).objects.filter(pk=page.pk).update(next_review_date=soon)
    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())
        periodic.send(sender=None, now=timezone.now())
    review_mails = [m for m in mail.outbox if m.to == [owner.email]]
    assert len(review_mails) == 1 and "CIRC-004" in review_mails[0].subject


def test_version_pdf_and_manual_pdf(client, consortium, library_page):
    new_policy(library_page)
    new_policy(library_page, code="PRIV-001", title="Patron privacy")
    staff = factories.member(consortium["systems"][0], STAFF)
    client.force_login(staff)
    response = client.get(reverse("policies:version_pdf", args=["CIRC-004", 1]))
    assert response.status_code == 200 and response.content[:5] == b"%PDF-"
    context = manual_context()
    assert [e["page"].code for e in context["entries"]] == ["CIRC-004", "PRIV-001"]
    pdf = render_pdf("policies/pdf/manual.html", context)
    assert pdf[:5] == b"%PDF-"
    assert client.get(reverse("policies:manual_pdf")).status_code == 200


def test_manual_prints_numbered_clauses_and_a_paged_contents(consortium, library_page):
    import io

    from pypdf import PdfReader

    new_policy(library_page)
    new_policy(
        library_page,
        code="PRIV-001",
        title="Patron privacy",
        clauses=["Records are kept for <b>one</b> year.", "First part.</p><p>Second part."],
    )
    reader = PdfReader(io.BytesIO(render_pdf("policies/pdf/manual.html", manual_context())))
    pages = [page.extract_text() for page in reader.pages]
    text = "\n".join(pages)
    # A one-paragraph clause prints flat with its number; a longer one keeps its paragraphs.
    assert "1.1 Records are kept for one year." in text.replace("\u2002", " ")
    assert "First part." in text and "Second part." in text
    # The contents give each policy's first page.
    privacy_page = next(i for i, p in enumerate(pages, 1) if "PRIV-001 · Patron privacy\n" in p)
    assert f"PRIV-001 · Patron privacy (v1) {privacy_page}" in pages[1].replace("\n", " ")
