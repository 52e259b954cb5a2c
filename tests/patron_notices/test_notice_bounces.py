"""Provider webhooks (through django-anymail) feed the suppression list: the payloads are
the providers' own shapes, posted with the webhook's basic-auth secret."""

import base64
import json

import pytest

from plugins.patron_notices.models import Delivery, Patron
from plugins.patron_notices.notices import planning
from portal.audit.models import AuditEntry

from .engine_support import notice, patron

pytestmark = pytest.mark.django_db

SECRET = "hooks:s3cret-for-tests"
POSTMARK = "/patron-notices/anymail/postmark/tracking/"


@pytest.fixture
def secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def auth(secret=SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def postmark_bounce(email, delivery=None, kind="HardBounce", record="Bounce") -> dict:
    # As Postmark documents its bounce webhook.
    metadata = (
        {"concord_notice": str(delivery.notice_id), "concord_delivery": str(delivery.pk)}
        if delivery
        else {}
    )
    return {
        "RecordType": record,
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": kind,
        "TypeCode": 1 if kind == "HardBounce" else 512,
        "Name": "Hard bounce",
        "Tag": "",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": metadata,
        "ServerID": 23,
        "Description": f"The server was unable to deliver your message to {email}.",
        "Details": f"smtp;550 5.1.1 <{email}>: Recipient address rejected",
        "Email": email,
        "From": "notices@consortium.example",
        "BouncedAt": "2026-11-05T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Fines waived at Main",
    }


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def post(payload, **headers):
        # The audit entry is written on commit.
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                POSTMARK, json.dumps(payload), content_type="application/json", **headers
            )

    return post


@pytest.fixture
def sent(libs):
    """A sent notice: ada has cards at Main and South, bo at Main."""
    n = notice()
    ada_main = patron(libs["main"], "M1", "ada@example.org")
    patron(libs["south"], "S1", "ada@example.org")
    bo = patron(libs["main"], "M2", "bo@example.org")
    rows = {}
    for p in (ada_main, bo):
        rows[p.email] = Delivery.objects.create(
            notice=n, contact=p.contact, patron=p, library=p.library, language="en", state="sent"
        )
    return n, rows


def test_a_hard_bounce_suppresses_the_person_and_fails_the_row(post, libs, secret, sent):
    n, rows = sent
    response = post(postmark_bounce("ada@example.org", rows["ada@example.org"]), **auth())
    assert response.status_code == 200
    assert set(
        Patron.objects.filter(contact__email="ada@example.org").values_list(
            "suppression", flat=True
        )
    ) == {"bounced"}  # every card of the person
    assert Patron.objects.get(card_number="M2").suppression == ""
    row = Delivery.objects.get(pk=rows["ada@example.org"].pk)
    assert row.state == "failed" and row.last_error.startswith("bounced: bounced")
    assert "ada@" not in row.last_error
    assert Delivery.objects.get(pk=rows["bo@example.org"].pk).state == "sent"
    # The next notice leaves her out.
    assert planning.count_recipients(notice()) == 1
    entry = AuditEntry.objects.get(action="patron_notices.bounced")
    assert "ada" not in json.dumps(entry.data) and entry.data["delivery"] == row.pk
    assert entry.data["cards_suppressed"] == 2


def test_the_same_webhook_twice_changes_and_audits_once(post, libs, secret, sent):
    _n, rows = sent
    payload = postmark_bounce("ada@example.org", rows["ada@example.org"])
    assert post(payload, **auth()).status_code == 200
    assert post(payload, **auth()).status_code == 200
    assert AuditEntry.objects.filter(action="patron_notices.bounced").count() == 1


def test_a_complaint_without_metadata_finds_the_latest_message(post, libs, secret, sent):
    _n, rows = sent
    payload = postmark_bounce("bo@example.org", kind="SpamComplaint", record="SpamComplaint")
    assert post(payload, **auth()).status_code == 200
    assert Patron.objects.get(card_number="M2").suppression == "complained"
    row = Delivery.objects.get(pk=rows["bo@example.org"].pk)
    assert row.state == "failed" and row.last_error.startswith("complained")
    assert AuditEntry.objects.filter(action="patron_notices.complained").count() == 1


def test_metadata_naming_another_persons_row_is_not_trusted(post, libs, secret, sent):
    _n, rows = sent
    # bo's address with ada's row in the metadata: only bo's own row is touched.
    payload = postmark_bounce("bo@example.org", rows["ada@example.org"])
    post(payload, **auth())
    assert Delivery.objects.get(pk=rows["ada@example.org"].pk).state == "sent"
    assert Delivery.objects.get(pk=rows["bo@example.org"].pk).state == "failed"


def test_a_soft_bounce_suppresses_nobody(post, libs, secret, sent):
    _n, rows = sent
    payload = postmark_bounce("ada@example.org", rows["ada@example.org"], kind="SoftBounce")
    assert post(payload, **auth()).status_code == 200
    assert not Patron.objects.exclude(suppression="").exists()
    assert Delivery.objects.get(pk=rows["ada@example.org"].pk).state == "sent"


def test_without_the_secret_nothing_happens(post, libs, secret, sent, settings):
    _n, rows = sent
    payload = postmark_bounce("ada@example.org", rows["ada@example.org"])
    assert post(payload).status_code == 400  # anymail refuses: no basic auth
    assert post(payload, **auth("hooks:wrong")).status_code == 400
    assert not Patron.objects.exclude(suppression="").exists()
    # And with no secret configured the webhook does not answer at all.
    settings.ANYMAIL = {}
    assert post(payload, **auth()).status_code == 404
    assert not Patron.objects.exclude(suppression="").exists()


def test_messages_through_a_provider_carry_their_row_for_its_webhooks(
    libs, django_capture_on_commit_callbacks
):
    from django.core import mail

    from plugins.patron_notices.models import LibrarySender, Notice
    from plugins.patron_notices.notices import services as notices

    # A library sending through a provider (anymail's own test backend stands in for it).
    LibrarySender.objects.create(library=libs["root"], backend="anymail.backends.test.EmailBackend")
    patron(libs["main"], "M1", "ada@example.org")
    n = notice(state=Notice.State.APPROVED)
    with django_capture_on_commit_callbacks(execute=True):
        notices.do_schedule_notice(None, n)
    row = Delivery.objects.get(notice=n)
    assert row.state == "sent"
    (message,) = mail.outbox
    assert message.metadata == {"concord_notice": str(n.pk), "concord_delivery": str(row.pk)}
    assert message.extra_headers["Message-ID"] == row.message_id


def test_without_metadata_the_last_message_sent_is_the_one_marked(post, libs, secret):
    from django.utils import timezone

    bo = patron(libs["main"], "M2", "bo@example.org")
    older = Delivery.objects.create(
        notice=notice(),
        contact=bo.contact,
        patron=bo,
        library=bo.library,
        language="en",
        state="failed",
        last_error="550 earlier",
    )
    latest = Delivery.objects.create(
        notice=notice(),
        contact=bo.contact,
        patron=bo,
        library=bo.library,
        language="en",
        state="sent",
        sent_at=timezone.now(),
    )
    payload = postmark_bounce("bo@example.org", kind="SpamComplaint", record="SpamComplaint")
    assert post(payload, **auth()).status_code == 200
    assert Delivery.objects.get(pk=latest.pk).last_error.startswith("complained")
    assert Delivery.objects.get(pk=older.pk).last_error == "550 earlier"
