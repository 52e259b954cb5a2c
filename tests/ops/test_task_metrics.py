"""The office's background-task page: queued per queue, running per worker, failures."""

import uuid

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.fixups.django import DjangoWorkerFixup
from django.conf import settings

from portal import tasks
from portal.celery import app
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from portal.observability import metrics
from tests import factories
from tests.core.test_celery import forget_backend
from tests.factories import with_mfa

URL = "/admin/tasks/"


@app.task(name="tests.ops.always_fails")
def always_fails():
    raise RuntimeError("this task always fails")


@pytest.fixture
def office(db):
    return with_mfa(factories.member(factories.consortium(), CONSORTIUM_ADMIN, verified=True))


@pytest.fixture
def not_eager():
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    forget_backend(app)
    yield
    app.conf.task_always_eager = saved
    forget_backend(app)


def test_failures_are_counted_per_task_in_redis(db):
    client = redis.Redis.from_url(settings.REDIS_URL)
    before = int(client.hget(metrics.FAILURES_KEY, "tests.ops.always_fails") or 0)
    always_fails.apply()  # through Celery's tracer, as in a worker
    always_fails.apply()
    after = int(client.hget(metrics.FAILURES_KEY, "tests.ops.always_fails"))
    assert after == before + 2
    assert client.hget(metrics.LAST_FAILURE_KEY, "tests.ops.always_fails")


def test_the_office_sees_queued_running_and_failed_tasks(
    client,
    office,
    settings,
    own_control_exchange,
    not_eager,
    monkeypatch,
):
    waiting = f"test-waiting-{uuid.uuid4().hex}"
    served = f"test-served-{uuid.uuid4().hex}"
    settings.CONCORD_METRICS_QUEUES = [waiting]
    for n in range(3):
        tasks.ping.apply_async((n,), queue=waiting)  # no worker consumes this queue
    always_fails.apply()
    monkeypatch.setattr(DjangoWorkerFixup, "install", lambda self: self)
    client.force_login(office)
    try:
        with start_worker(app, queues=[served], perform_ping_check=False):
            response = client.get(URL)
    finally:
        redis.Redis.from_url(settings.REDIS_URL).delete(waiting)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<td data-queue="{waiting}">3</td>' in page
    assert 'data-failures="tests.ops.always_fails"' in page
    found = response.context["metrics"]
    assert found.queued[waiting] == 3
    assert len(found.workers) == 1
    assert found.active == 0


def test_without_workers_the_page_says_so(client, office, own_control_exchange):
    client.force_login(office)
    response = client.get(URL)
    assert response.status_code == 200
    assert "No worker answered" in response.content.decode()


@pytest.mark.parametrize("role", [STAFF, DIRECTOR])
def test_only_the_office_may_open_it(client, db, role):
    person = with_mfa(factories.member(factories.consortium(), role, verified=True))
    client.force_login(person)
    response = client.get(URL)
    assert response.status_code in (302, 403)


def test_the_menu_item_is_shown_to_the_office_only(client, office):
    client.force_login(office)
    assert URL in client.get("/admin/").content.decode()
