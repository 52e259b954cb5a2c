"""The engine with real Celery workers on Redis, a real SMTP server, committed data.

Workers are separate ``celery -A portal worker`` processes on a queue of their own, as in
production; one of them is killed with SIGKILL in the fault test.
"""

import os
import signal
import time
import uuid
from collections import defaultdict

import pytest
from django.db import transaction

from plugins.patron_notices.models import Delivery, Notice
from plugins.patron_notices.notices import services as notices
from portal.celery import app
from tests.core.test_celery import redis_or_skip

from .engine_support import SMTPServer, Workers, bulk_audience, notice, office_sender, wait_for

# Real Celery workers on a real broker.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def queue(settings):
    redis_or_skip()
    name = f"test-notices-{uuid.uuid4().hex}"
    settings.PATRON_NOTICES_QUEUE = name
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield name
    app.conf.task_always_eager = saved


def start(n: Notice) -> None:
    Notice.objects.filter(pk=n.pk).update(state=Notice.State.APPROVED)
    with transaction.atomic():
        notices.do_schedule_notice(None, Notice.objects.get(pk=n.pk))


def sent(n: Notice) -> int:
    return Delivery.objects.filter(notice=n, state=Delivery.State.SENT).count()


def in_flight(n: Notice) -> int:
    return Delivery.objects.filter(notice=n, state=Delivery.State.SENDING).count()


def state(n: Notice) -> str:
    return Notice.objects.get(pk=n.pk).state


def reap_until_done(n: Notice, timeout: float, every: float) -> None:
    """What beat's periodic job does every few minutes, here every ``every`` seconds, until
    the notice is done."""

    def finished():
        notices.do_reap()
        return state(n) == Notice.State.DONE

    wait_for(finished, timeout=timeout, every=every)


def by_address(messages) -> dict[str, list]:
    result = defaultdict(list)
    for m in messages:
        result[m["To"]].append(m)
    return result


def control(n: Notice, action: str) -> None:
    with transaction.atomic():
        locked = notices.check_control(_office(), n, action)
        getattr(notices, f"do_{action}")(None, locked)


def _office():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(email="office@example.org")


@pytest.fixture
def office(libs):
    from allauth.mfa.models import Authenticator

    from portal.members.roles import CONSORTIUM_ADMIN
    from tests import factories

    user = factories.member(libs["root"], CONSORTIUM_ADMIN, email="office@example.org")
    Authenticator.objects.create(user=user, type="totp", data={"secret": "x"})
    return user


def test_real_workers_send_once_each_and_obey_pause_resume_cancel(libs, queue, office):
    with SMTPServer(delay=0.01) as smtp:
        office_sender(libs["root"], smtp.port)
        addresses = bulk_audience(libs["main"], 120, "a") + bulk_audience(libs["south"], 120, "b")
        workers = Workers(queue, NOTICE_BATCH=20, NOTICE_CHECK_EVERY=5, NOTICE_PARALLEL=2)
        try:
            workers.start()
            workers.start()
            n = notice()
            start(n)
            wait_for(lambda: sent(n) >= 40)

            control(n, "pause")
            paused = time.monotonic()
            wait_for(lambda: in_flight(n) == 0, timeout=10)
            assert time.monotonic() - paused < 5  # takes effect within seconds
            count = len(smtp.recorder.messages)
            time.sleep(1.5)
            assert len(smtp.recorder.messages) == count < len(addresses)

            control(n, "resume")
            wait_for(lambda: state(n) == Notice.State.DONE, timeout=120)
            received = by_address(smtp.recorder.messages)
            assert sorted(received) == sorted(addresses)
            assert all(len(m) == 1 for m in received.values())  # exactly one each
            ids = dict(Delivery.objects.filter(notice=n).values_list("contact__email", "pk"))
            for address, (message,) in received.items():
                assert (
                    message["Message-ID"]
                    == f"<notice-{n.pk}.delivery-{ids[address]}@concord.invalid>"
                )
            branded = {m["To"]: m["Subject"] for m in smtp.recorder.messages}
            assert branded["a1@example.net"] == "Fines waived at Main"
            assert branded["b1@example.net"] == "Fines waived at South System"

            # Cancel a second notice in mid-send: the rest is skipped, nothing more goes.
            smtp.recorder.messages.clear()
            second = notice(title="Outage")
            start(second)
            wait_for(lambda: sent(second) >= 20)
            control(second, "cancel")
            wait_for(lambda: in_flight(second) == 0, timeout=10)
            count = len(smtp.recorder.messages)
            time.sleep(1.5)
            assert len(smtp.recorder.messages) == count < len(addresses)
            assert state(second) == Notice.State.CANCELLED
            skipped = Delivery.objects.filter(notice=second, state="skipped").count()
            assert skipped + sent(second) == len(addresses)
        finally:
            workers.stop()


def test_a_worker_killed_mid_campaign_loses_nobody(libs, queue, office):
    lease = 3
    with SMTPServer(delay=0.01) as smtp:
        office_sender(libs["root"], smtp.port)
        addresses = bulk_audience(libs["main"], 200, "k") + bulk_audience(libs["east"], 200, "e")
        workers = Workers(
            queue, NOTICE_BATCH=25, NOTICE_CHECK_EVERY=5, NOTICE_PARALLEL=2, NOTICE_LEASE=lease
        )
        try:
            victim = workers.start()
            workers.start()
            n = notice()
            start(n)
            victim_name = workers.name_of(victim)
            wait_for(
                lambda: (
                    sent(n) >= 60
                    and Delivery.objects.filter(worker=victim_name, state="sending").exists()
                ),
                timeout=60,
                every=0.02,
            )
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            held = Delivery.objects.filter(notice=n, worker=victim_name, state="sending").count()
            assert held > 0
            workers.start()

            reap_until_done(n, timeout=120, every=1)
        finally:
            workers.stop()

        received = by_address(smtp.recorder.messages)
        assert sorted(received) == sorted(addresses)  # nobody lost
        duplicates = sum(len(m) - 1 for m in received.values())
        assert duplicates <= held
        for messages in received.values():
            assert len({m["Message-ID"] for m in messages}) == 1
        assert Delivery.objects.filter(notice=n, state="sent").count() == len(addresses)


def test_a_batch_slower_than_its_lease_keeps_its_rows(libs, queue, office):
    # Each batch outlives its lease several times over while a reaper runs all along: the
    # lease must be renewed as the batch goes, or the reaper hands live rows to the other
    # worker and patrons get two messages.
    lease = 1.5
    with SMTPServer(delay=0.05) as smtp:
        office_sender(libs["root"], smtp.port)
        addresses = bulk_audience(libs["main"], 80, "s")
        workers = Workers(
            queue, NOTICE_BATCH=40, NOTICE_CHECK_EVERY=4, NOTICE_PARALLEL=2, NOTICE_LEASE=lease
        )
        try:
            workers.start()
            workers.start()
            n = notice()
            start(n)
            reap_until_done(n, timeout=60, every=0.2)
        finally:
            workers.stop()
        received = by_address(smtp.recorder.messages)
        assert sorted(received) == sorted(addresses)
        assert all(len(messages) == 1 for messages in received.values())


def test_a_pause_stops_a_slow_batch_within_seconds_not_at_its_next_count(libs, queue, office):
    # 0.1 s a message and a check only every 1,000 messages by count: the batch of 60 would
    # run 6 s past the pause; the check by time (0.5 s) stops it.
    with SMTPServer(delay=0.1) as smtp:
        office_sender(libs["root"], smtp.port)
        addresses = bulk_audience(libs["main"], 60, "p")
        workers = Workers(
            queue,
            NOTICE_BATCH=60,
            NOTICE_CHECK_EVERY=1000,
            NOTICE_CHECK_SECONDS=0.5,
            NOTICE_PARALLEL=1,
        )
        try:
            workers.start()
            n = notice()
            start(n)
            wait_for(lambda: len(smtp.recorder.messages) >= 5, timeout=30, every=0.05)
            control(n, "pause")
            at_pause = len(smtp.recorder.messages)
            wait_for(lambda: in_flight(n) == 0, timeout=10, every=0.05)
            time.sleep(1)
            assert len(smtp.recorder.messages) <= at_pause + 10 < len(addresses)
            assert state(n) == Notice.State.PAUSED
            assert sent(n) == len(smtp.recorder.messages)
        finally:
            workers.stop()
