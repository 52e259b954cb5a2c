"""The engine through faults of the database and the broker.

The quick tests break the batch's own connection (``pg_terminate_backend``, what a
restart does to every session) at chosen points. The slow one restarts a PostgreSQL
cluster and a Redis that it owns, started for it on ports of its own (never the machine's
shared servers), during a send by real workers to a real SMTP server: see
``bench/notice_faults.py``, which it runs.
"""

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connection

from plugins.patron_notices.directory import tasks as directory_tasks
from plugins.patron_notices.models import Delivery, ImportJob, Notice, Patron
from plugins.patron_notices.notices import leases, queue, sending, tasks
from plugins.patron_notices.notices import services as notices

from .conftest import KOHA_HEADER, koha_row
from .engine_support import SMTPServer, bulk_audience, notice, office_sender
from .fault_servers import ThrowawayPostgres, ThrowawayRedis, postgres_bin

pytestmark = pytest.mark.django_db(transaction=True)


def needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("breaks PostgreSQL connections")


def cut_connection() -> None:
    """End this process's database session as a restart would: the statement fails."""
    with pytest.raises(OperationalError), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def planned(n: Notice, monkeypatch) -> Notice:
    """The notice sending, its rows planned, no batch started: the test runs them."""
    monkeypatch.setattr(queue, "batches", lambda *a, **kw: None)
    Notice.objects.filter(pk=n.pk).update(state=Notice.State.APPROVED)
    notices.do_schedule_notice(None, Notice.objects.get(pk=n.pk))
    n.refresh_from_db()
    assert n.state == Notice.State.SENDING
    return n


def test_a_batch_whose_connection_breaks_records_what_it_sent(libs, settings, monkeypatch):
    needs_postgres()
    settings.PATRON_NOTICES_CHECK_EVERY = 5
    with SMTPServer() as smtp:
        office_sender(libs["root"], smtp.port)
        addresses = bulk_audience(libs["main"], 30, "c")
        n = planned(notice(), monkeypatch)
        real_flush, calls = leases.flush, []

        def flush(outcome, *args, **kwargs):
            calls.append(len(outcome.sent))
            if len(calls) in (2, 3):  # twice running: the first retry finds it gone again
                cut_connection()
            return real_flush(outcome, *args, **kwargs)

        monkeypatch.setattr(leases, "flush", flush)
        result = sending.send_batch(n.pk)

    assert calls[1] == calls[2] == calls[3] == 5  # the same outcomes, kept until recorded
    assert result.sent == 30
    assert Counter(m["To"] for m in smtp.recorder.messages) == Counter(addresses)
    rows = Delivery.objects.filter(notice=n)
    assert set(rows.values_list("state", "attempts")) == {(Delivery.State.SENT, 1)}


def test_a_claim_whose_answer_was_lost_gives_its_rows_back(libs, settings, monkeypatch):
    # The claim committed, but its connection broke before the rows reached the worker:
    # claiming again must not leave those rows leased to nobody until the lease runs out.
    needs_postgres()
    settings.PATRON_NOTICES_BATCH_SIZE = 10
    with SMTPServer() as smtp:
        office_sender(libs["root"], smtp.port)
        bulk_audience(libs["main"], 25, "q")
        n = planned(notice(), monkeypatch)
        real_claim, calls = leases.claim, []

        def claim(*args, **kwargs):
            calls.append(1)
            rows = real_claim(*args, **kwargs)
            if len(calls) == 1:
                cut_connection()
                raise OperationalError("the answer to the claim was lost")
            return rows

        monkeypatch.setattr(leases, "claim", claim)
        result = sending.send_batch(n.pk, worker="w1")
        assert result.claimed == result.sent == 10
        rows = Delivery.objects.filter(notice=n)
        assert rows.filter(state=Delivery.State.SENDING).count() == 0  # none held by nobody
        assert rows.filter(state=Delivery.State.SENT).count() == 10
        assert set(rows.values_list("attempts", flat=True)) == {0, 1}  # given back uncounted
        assert len(smtp.recorder.messages) == 10


def test_a_batch_ended_by_a_longer_outage_goes_on_as_a_retry(libs, settings, monkeypatch):
    # The database stayed away longer than the lease: the batch gave up, its rows still
    # leased to it. The chain is not ended: the task is retried, takes those rows back
    # (their lease ran out) and sends them, without the periodic repair.
    needs_postgres()
    with SMTPServer() as smtp:
        office_sender(libs["root"], smtp.port)
        addresses = bulk_audience(libs["main"], 12, "o")
        n = planned(notice(), monkeypatch)
        real_send, calls = sending.send_batch, []

        def send_batch(notice_id, worker=None):
            calls.append(notice_id)
            if len(calls) == 1:
                leases.claim(notice_id, "gave-up", 5, lease=0)  # held, its lease run out
                raise OperationalError("the database did not answer within the lease")
            return real_send(notice_id, worker)

        monkeypatch.setattr(sending, "send_batch", send_batch)
        tasks.send_notice_batch.apply((n.pk,))  # eagerly: the retry runs at once

    assert calls == [n.pk, n.pk]
    assert Counter(m["To"] for m in smtp.recorder.messages) == Counter(addresses)
    assert Notice.objects.get(pk=n.pk).state == Notice.State.DONE


def test_an_import_cut_off_while_writing_fails_clearly_and_writes_nothing(
    people, libs, monkeypatch
):
    needs_postgres()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from plugins.patron_notices.directory import importer, services

    rows = [koha_row(i, f"90{i:03d}", "Okafor", f"P{i}", f"p{i}@example.org") for i in range(40)]
    content = ("\n".join([KOHA_HEADER, *rows]) + "\n").encode()
    upload = SimpleUploadedFile("patrons.csv", content, content_type="text/csv")
    job, _header = services.do_upload_import(people["comms"], libs["north"], upload, "koha")
    real_report = importer.Importer.report

    def report(self, phase):
        real_report(self, phase)
        if phase == ImportJob.Phase.WRITING:
            cut_connection()  # as a restart would, half-way through the write

    monkeypatch.setattr(importer.Importer, "report", report)
    monkeypatch.setattr(services, "enqueue", lambda *a, **kw: None)  # run below, not on commit
    services.do_run_import(people["comms"], job, job.mapping, "valid_rows", False)

    assert directory_tasks.run_import(job.pk) == ImportJob.Status.FAILED
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.phase == ImportJob.Phase.FAILED
    assert "connection to the database was lost" in job.error and "run it again" in job.error
    assert not Patron.objects.filter(library=libs["north"]).exists()  # all or nothing

    monkeypatch.setattr(importer.Importer, "report", real_report)
    again, _header = services.do_upload_import(people["comms"], libs["north"], upload, "koha")
    services.do_run_import(people["comms"], again, again.mapping, "valid_rows", False)
    assert directory_tasks.run_import(again.pk) == ImportJob.Status.DONE
    assert Patron.objects.filter(library=libs["north"]).count() == 40


def test_back_on_the_broker_what_it_may_have_lost_is_queued_again(
    libs, people, monkeypatch, django_capture_on_commit_callbacks
):
    # A Redis restarted without persistence, or a worker that dropped the tasks it had
    # taken when its connection broke: the database says what was waiting.
    from django.core.files.uploadedfile import SimpleUploadedFile

    from plugins.patron_notices.directory import services

    with SMTPServer() as smtp:
        office_sender(libs["root"], smtp.port)
        bulk_audience(libs["main"], 5, "r")
        n = planned(notice(), monkeypatch)
    paused = planned(notice(title="Paused"), monkeypatch)
    Notice.objects.filter(pk=paused.pk).update(state=Notice.State.PAUSED)
    content = (
        "\n".join([KOHA_HEADER, koha_row(1, "7001", "Lee", "Chen", "c@example.org")])
    ).encode()
    upload = SimpleUploadedFile("patrons.csv", content, content_type="text/csv")
    job, _header = services.do_upload_import(people["comms"], libs["north"], upload, "koha")
    # Its message is lost.
    monkeypatch.setattr(services, "enqueue", lambda *a, **kw: None)
    services.do_run_import(people["comms"], job, job.mapping, "valid_rows", False)

    queued = []
    monkeypatch.setattr(queue, "batches", lambda notice_id, *a, **kw: queued.append(notice_id))
    assert tasks.resume_after_reconnect() == (1, 1)  # run eagerly here: the import runs
    assert queued == [n.pk]  # not the paused one
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert directory_tasks.run_import(job.pk) == "skipped"  # queued twice, run once


# -- the real thing: servers restarted under real workers ------------------------------------


@pytest.fixture
def own_postgres():
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed here")
    server = ThrowawayPostgres().create()
    yield server
    server.destroy()


@pytest.fixture
def own_redis():
    server = ThrowawayRedis().start()
    yield server
    server.stop()


@pytest.mark.slow
def test_postgres_then_redis_restarted_mid_send_lose_nobody_and_send_nobody_twice(
    own_postgres, own_redis
):
    outage = 3.0  # seconds each server is down; the lease is 30
    bench = [
        sys.executable,
        str(django_settings.BASE_DIR / "bench" / "notice_faults.py"),
        "--json",
        "--recipients", "2000",
        "--outage", str(outage),
        "--postgres-data", str(own_postgres.data),
        "--postgres-port", str(own_postgres.port),
        "--redis-port", str(own_redis.port),
    ]  # fmt: skip
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        # The run's migrated template, copied: the migrations are not what this is about.
        bench += ["--schema-from", os.environ["DATABASE_URL"]]
    done = subprocess.run(bench, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])

    assert figures["lost"] == 0, figures
    assert figures["duplicates"] == 0, figures
    assert figures["message_ids_stable"]
    assert figures["done"], figures  # finished without the periodic repair
    assert figures["rows"] == {"sent": 2000}, figures
    # Sending goes on within seconds of each server answering again.
    assert figures["postgres_resumed_after"] < 5, figures
    assert figures["redis_resumed_after"] < 10, figures
    assert figures["postgres_stall"] < outage + 5, figures
    assert figures["redis_stall"] < outage + 10, figures
