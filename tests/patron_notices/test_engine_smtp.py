"""The engine against a real SMTP server on loopback (tasks run in-process here)."""

import re

import pytest
from django.core import signing

from plugins.patron_notices.models import (
    Delivery,
    LibraryParticipation,
    LibrarySender,
    Notice,
    Patron,
    PreferenceChange,
)
from plugins.patron_notices.notices import links, sending
from plugins.patron_notices.notices import services as notices

from .engine_support import SMTPServer, notice, office_sender, patron

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["pipelined", "one-by-one"])
def smtp(libs, request):
    # Each test against a server that offers PIPELINING and one that does not.
    with SMTPServer(pipelining=request.param) as server:
        office_sender(libs["root"], server.port)
        yield server


def send_now(n: Notice, capture) -> Notice:
    Notice.objects.filter(pk=n.pk).update(state=Notice.State.APPROVED)
    n.refresh_from_db()
    with capture(execute=True):
        notices.do_schedule_notice(None, n)
    n.refresh_from_db()
    return n


def unsubscribe_url(message) -> str:
    # A long header may be folded; the value is the one angle-bracketed HTTPS(S) URI.
    return re.fullmatch(r"<(\S+)>", message["List-Unsubscribe"].strip()).group(1)


def test_each_patron_gets_one_message_branded_by_their_library(
    libs, smtp, django_capture_on_commit_callbacks
):
    libs["main"].reply_to, libs["main"].primary_colour = "desk@main.example", "#aa0000"
    libs["main"].address = "1 Main Street"
    libs["main"].save()
    LibrarySender.objects.create(
        library=libs["south"], from_name="South Libraries", reply_to="hello@south.example"
    )
    patron(libs["main"], "M1", "ada@example.org", first="Ada")
    patron(libs["south"], "S1", "ada@example.org", first="Ada")  # same person: one message
    patron(libs["south"], "S2", "bo@example.org", first="Bo", language="fr")
    patron(libs["east"], "E1", "cy@example.org", first="Cy")
    n = notice()
    LibraryParticipation.objects.create(
        notice=n, library=libs["north"], decision="approved", local_paragraph="Open Sundays."
    )
    n = send_now(n, django_capture_on_commit_callbacks)

    assert n.state == Notice.State.DONE and n.planned_count == 3
    messages = smtp.recorder.messages
    assert sorted(m["To"] for m in messages) == [
        "ada@example.org",
        "bo@example.org",
        "cy@example.org",
    ]
    ada, bo = smtp.recorder.to("ada@example.org")[0], smtp.recorder.to("bo@example.org")[0]
    ada_html = ada.get_body(("html",)).get_content()
    ada_text = ada.get_body(("plain",)).get_content()
    assert ada["Subject"] == "Fines waived at Main"
    assert ada["From"] == "Main <notices@consortium.example>"
    assert ada["Reply-To"] == "desk@main.example"
    assert "Dear Ada, fines are waived." in ada_html and "#aa0000" in ada_html
    assert "1 Main Street" in ada_html and "Open Sundays." in ada_html  # system's paragraph
    assert "Dear Ada, fines are waived." in ada_text and "<p>" not in ada_text
    assert bo["Subject"] == "Amendes annulées à South System"
    assert bo["From"] == "South Libraries <notices@consortium.example>"
    assert bo["Reply-To"] == "hello@south.example"
    assert "Bonjour Bo" in bo.get_body(("html",)).get_content()
    assert "Open Sundays." not in bo.get_body(("html",)).get_content()

    deliveries = {d.contact.email: d for d in Delivery.objects.select_related("contact")}
    assert {d.state for d in deliveries.values()} == {"sent"}
    assert ada["Message-ID"] == deliveries["ada@example.org"].message_id
    assert len({m["Message-ID"] for m in messages}) == 3


def test_headers_follow_rfc_8058(libs, smtp, django_capture_on_commit_callbacks, client):
    patron(libs["main"], "M1", "ada@example.org")
    send_now(notice(), django_capture_on_commit_callbacks)
    message = smtp.recorder.messages[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = unsubscribe_url(message)
    assert url.startswith("http://testserver/patron-notices/u/")  # an absolute HTTPS(S) URI
    assert url in message.get_body(("html",)).get_content()  # and a visible link
    # A GET (a link scanner) only asks.
    page = client.get(url.removeprefix("http://testserver"))
    assert page.status_code == 200 and b'name="scope"' in page.content
    assert Patron.objects.get(card_number="M1").suppression == ""
    # The one-click POST as a mail provider sends it: no cookie, no CSRF token.
    client.handler.enforce_csrf_checks = True
    done = client.post(url.removeprefix("http://testserver"), {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert Patron.objects.get(card_number="M1").suppression == "unsubscribed"
    assert PreferenceChange.objects.filter(field="unsubscribed").count() == 1


def test_unsubscribe_from_everything_and_from_a_category(
    libs, smtp, django_capture_on_commit_callbacks, client
):
    patron(libs["main"], "M1", "ada@example.org")
    patron(libs["main"], "M2", "bo@example.org")
    send_now(notice(), django_capture_on_commit_callbacks)
    ada = unsubscribe_url(smtp.recorder.to("ada@example.org")[0])
    bo = unsubscribe_url(smtp.recorder.to("bo@example.org")[0])
    client.post(ada.removeprefix("http://testserver"), {"scope": "all"})
    client.post(bo.removeprefix("http://testserver"), {"scope": "category"})
    ada_contact = Patron.objects.get(card_number="M1").contact
    bo_contact = Patron.objects.get(card_number="M2").contact
    assert ada_contact.unsubscribed_all_at is not None
    assert "general" not in bo_contact.notice_kinds and "services" in bo_contact.notice_kinds


def test_a_tampered_token_is_refused(libs, smtp, django_capture_on_commit_callbacks, client):
    patron(libs["main"], "M1", "ada@example.org")
    patron(libs["main"], "M2", "bo@example.org")
    send_now(notice(), django_capture_on_commit_callbacks)
    url = unsubscribe_url(smtp.recorder.to("ada@example.org")[0])
    path = url.removeprefix("http://testserver")
    token = path.rstrip("/").rsplit("/", 1)[1]
    bo_id = Delivery.objects.get(contact__email="bo@example.org").pk
    # Someone else's delivery id with ada's signature, and a flipped signature character.
    forged = signing.dumps(bo_id, salt=links.UNSUBSCRIBE_SALT).split(":")[0]
    forged += ":" + token.split(":", 1)[1]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (forged, flipped, "garbage"):
        for method in (client.get, client.post):
            response = method(f"/patron-notices/u/{bad}/", {"List-Unsubscribe": "One-Click"})
            assert response.status_code == 403
    assert not Patron.objects.exclude(suppression="").exists()


def test_temporary_failure_is_retried_and_permanent_one_recorded(
    libs, smtp, django_capture_on_commit_callbacks, settings
):
    settings.PATRON_NOTICES_RETRY_BASE_SECONDS = 0
    patron(libs["main"], "M1", "slow@example.org")
    patron(libs["main"], "M2", "gone@example.org")
    patron(libs["main"], "M3", "fine@example.org")
    smtp.recorder.temporary["slow@example.org"] = 2
    smtp.recorder.permanent.add("gone@example.org")
    n = send_now(notice(), django_capture_on_commit_callbacks)

    rows = {d.contact.email: d for d in Delivery.objects.select_related("contact")}
    assert rows["slow@example.org"].state == "sent" and rows["slow@example.org"].attempts == 3
    assert rows["gone@example.org"].state == "failed"
    assert rows["gone@example.org"].last_error.startswith("550")
    assert rows["fine@example.org"].state == "sent"
    assert len(smtp.recorder.to("slow@example.org")) == 1
    assert smtp.recorder.to("gone@example.org") == []
    assert n.state == Notice.State.DONE

    # Once the cause is fixed, the office sends the failed ones again.
    smtp.recorder.permanent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notices.do_retry_failed(None, n)
    assert Delivery.objects.get(contact__email="gone@example.org").state == "sent"
    assert len(smtp.recorder.to("gone@example.org")) == 1


def test_temporary_failures_give_up_after_the_last_attempt(
    libs, smtp, django_capture_on_commit_callbacks, settings
):
    settings.PATRON_NOTICES_RETRY_BASE_SECONDS = 0
    settings.PATRON_NOTICES_MAX_ATTEMPTS = 2
    patron(libs["main"], "M1", "slow@example.org")
    smtp.recorder.temporary["slow@example.org"] = 5
    n = send_now(notice(), django_capture_on_commit_callbacks)
    row = Delivery.objects.get()
    assert (row.state, row.attempts, n.state) == ("failed", 2, "done")
    assert row.last_error.startswith("451")


def test_a_server_offering_pipelining_gets_one_write_per_message(
    libs, smtp, django_capture_on_commit_callbacks, monkeypatch
):
    import smtplib

    writes = []
    real_send = smtplib.SMTP.send
    monkeypatch.setattr(
        smtplib.SMTP, "send", lambda self, s: writes.append(s) or real_send(self, s)
    )
    for i in range(4):
        patron(libs["main"], f"M{i}", f"p{i}@example.org")
    send_now(notice(), django_capture_on_commit_callbacks)
    assert len(smtp.recorder.messages) == 4
    commands = len(writes) - 2  # EHLO on opening, QUIT on closing
    if smtp.recorder.pipelining:
        # The first MAIL+RCPT+DATA; then each content with the next message's MAIL+RCPT+DATA
        # in the same write; the last content alone.
        assert commands == 4 + 1
        assert all(w.endswith(b"DATA\r\n") for w in writes[1:-2])
    else:
        assert commands == 4 * 4  # MAIL, RCPT, DATA, content, one by one


def test_content_refused_in_mid_pipeline_fails_only_its_own_row(
    libs, smtp, django_capture_on_commit_callbacks
):
    # The dot's reply arrives with the next message's replies: it must land on its own row.
    for i in range(5):
        patron(libs["main"], f"M{i}", f"p{i}@example.org")
    smtp.recorder.refused_content.add("p2@example.org")
    n = send_now(notice(), django_capture_on_commit_callbacks)
    states = {d.contact.email: (d.state, d.last_error[:3]) for d in Delivery.objects.all()}
    assert states.pop("p2@example.org") == ("failed", "554")
    assert set(states.values()) == {("sent", "")}
    assert sorted(m["To"] for m in smtp.recorder.messages) == [
        f"p{i}@example.org" for i in (0, 1, 3, 4)
    ]
    assert n.state == Notice.State.DONE


def test_a_session_dropped_in_mid_pipeline_loses_nobody_and_sends_nobody_twice(
    libs, smtp, django_capture_on_commit_callbacks, settings
):
    settings.PATRON_NOTICES_RETRY_BASE_SECONDS = 0
    for i in range(6):
        patron(libs["main"], f"M{i}", f"p{i}@example.org")
    smtp.recorder.drop_at.add("p2@example.org")
    n = send_now(notice(), django_capture_on_commit_callbacks)
    assert set(Delivery.objects.values_list("state", flat=True)) == {"sent"}
    assert sorted(m["To"] for m in smtp.recorder.messages) == [
        f"p{i}@example.org" for i in range(6)
    ]
    assert smtp.recorder.sessions >= 2  # a new session after the drop
    retried = Delivery.objects.filter(attempts__gt=1).values_list("contact__email", flat=True)
    assert "p2@example.org" in retried
    assert n.state == Notice.State.DONE


def test_lines_starting_with_a_dot_arrive_intact(libs, smtp, django_capture_on_commit_callbacks):
    # A lone "." line ends a message's content unless the client doubles it (RFC 5321 4.5.2).
    patron(libs["main"], "M1", "ada@example.org")
    body = [("paragraph", "<p>.</p><p>.NET users: please update the app.</p>")]
    versions = [("version", {"language": "en", "subject": "App", "body": body})]
    send_now(notice(versions=versions), django_capture_on_commit_callbacks)
    (message,) = smtp.recorder.messages
    text = message.get_body(("plain",)).get_content()
    assert "\n.\r\n" in text and "\n.NET users: please update the app." in text
    assert ".NET users" in message.get_body(("html",)).get_content()


def _fresh_limits(n: Notice, domains) -> None:
    # Counters live in Redis by window: clear what an earlier run in this window left.
    from plugins.patron_notices.notices import ratelimit

    r = ratelimit.client()
    for key in r.scan_iter(f"pn:hour:{n.pk}:*"):
        r.delete(key)
    for domain in domains:
        for key in r.scan_iter(f"pn:domain:{domain}:*"):
            r.delete(key)


def test_the_hourly_limit_holds_the_rest_until_the_next_hour(
    libs, smtp, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from tests.core.test_celery import redis_or_skip

    redis_or_skip()
    for i in range(5):
        patron(libs["main"], f"M{i}", f"p{i}@hourly.example")
    n = notice(hourly_limit=3)
    _fresh_limits(n, [])
    n = send_now(n, django_capture_on_commit_callbacks)
    assert len(smtp.recorder.messages) == 3
    held = Delivery.objects.filter(notice=n, state="queued")
    assert held.count() == 2 and held.filter(attempts=0, worker="").count() == 2
    for d in held:  # due on the hour (the next one), give or take the clocks' milliseconds
        assert d.due_at > timezone.now()
        assert abs((d.due_at.timestamp() + 1800) % 3600 - 1800) < 2
    assert n.state == Notice.State.SENDING  # not done: it resumes within the next hour
    # Another batch now (beat's reaper restarts stalled notices) takes nothing early.
    sending.send_batch(n.pk)
    assert len(smtp.recorder.messages) == 3


def test_the_domain_limit_spreads_one_domain_over_minutes_and_not_the_others(
    libs, smtp, django_capture_on_commit_callbacks
):
    import uuid

    from plugins.patron_notices.notices import tasks
    from tests.core.test_celery import redis_or_skip

    redis_or_skip()
    busy, quiet = f"busy-{uuid.uuid4().hex[:8]}.example", f"quiet-{uuid.uuid4().hex[:8]}.example"
    for i in range(4):
        patron(libs["main"], f"B{i}", f"p{i}@{busy}")
    patron(libs["main"], "Q1", f"solo@{quiet}")
    n = notice(domain_limit=2)
    _fresh_limits(n, [busy, quiet])
    n = send_now(n, django_capture_on_commit_callbacks)
    received = sorted(m["To"].partition("@")[2] for m in smtp.recorder.messages)
    assert received == sorted([busy, busy, quiet])
    held = Delivery.objects.filter(notice=n, state="queued")
    assert {d.contact.email.partition("@")[2] for d in held} == {busy}
    assert held.count() == 2 and all(d.due_at is not None for d in held)
    # Due now (the next minute, as it were): the rest go, and the notice is done.
    held.update(due_at=None)
    _fresh_limits(n, [busy])
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_notice_batch.delay(n.pk)
    assert len(smtp.recorder.messages) == 5
    n.refresh_from_db()
    assert n.state == Notice.State.DONE
