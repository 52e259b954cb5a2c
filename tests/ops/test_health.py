"""/healthz and /readyz against the real database, a real Redis and a real Celery worker."""

import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal import health
from tests import factories


@pytest.mark.django_db
def test_healthz_answers_without_touching_the_database(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(queries) == 0
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ready_when_database_redis_and_a_worker_answer(
    client, own_control_exchange, monkeypatch
):
    # The fixup closes the starting thread's database connections, as a worker process
    # must; here that thread is the test's, inside its transaction.
    monkeypatch.setattr(DjangoWorkerFixup, "install", lambda self: self)
    queue = f"test-ready-{uuid.uuid4().hex}"
    with start_worker(own_control_exchange, queues=[queue], perform_ping_check=False):
        response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "workers"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] >= 0
    assert body["checks"]["workers"]["detail"] == "1 worker(s)"


@pytest.mark.django_db
def test_readyz_fails_with_503_when_no_worker_answers(client, own_control_exchange):
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["workers"]["status"] == "fail"
    assert "no Celery worker" in checks["workers"]["detail"]
    # The other checks still ran and are reported on their own.
    assert checks["database"]["status"] == "ok"
    assert checks["redis"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_reports_an_unreachable_redis(client, settings, own_control_exchange):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    redis_check = response.json()["checks"]["redis"]
    assert redis_check["status"] == "fail"
    assert "ConnectionError" in redis_check["detail"]


@pytest.mark.django_db
def test_readyz_reports_a_failing_database(client, monkeypatch, own_control_exchange):
    def broken_cursor(*args, **kwargs):
        raise health.connection.OperationalError("database is down")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor, raising=False)
    monkeypatch.setattr(health.connection, "OperationalError", RuntimeError, raising=False)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "fail"
    assert "database is down" in response.json()["checks"]["database"]["detail"]


@pytest.mark.django_db
def test_a_director_without_mfa_still_gets_the_probes(client, own_control_exchange):
    """The MFA middleware redirects such people everywhere else; probes must not be."""
    director = factories.member(factories.consortium(), "director", verified=True)
    client.force_login(director)
    assert client.get("/dashboard/").status_code == 302
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503  # not a redirect: the checks ran
    assert "checks" in response.json()
