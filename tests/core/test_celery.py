"""Celery against a real Redis: a worker runs a task, and beat collects plugins' jobs."""

import os
import uuid
from types import SimpleNamespace

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from portal import tasks
from portal.celery import app, collect_beat_schedule
from portal.plugins import PeriodicJob, PluginMeta


def redis_or_skip() -> None:
    """Locally a missing Redis skips; in CI (CI=true) it is a failure."""
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis at {settings.REDIS_URL} is not reachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def forget_backend(celery_app) -> None:
    """Celery caches the result backend on first use; drop it so the next use reads conf."""
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


@pytest.fixture
def real_worker_app():
    """The portal's app, not eager, with a Redis result backend for this test only."""
    redis_or_skip()
    saved = {key: app.conf[key] for key in ("task_always_eager", "result_backend")}
    app.conf.update(task_always_eager=False, result_backend=settings.REDIS_URL)
    forget_backend(app)
    yield app
    app.conf.update(saved)
    forget_backend(app)


@pytest.mark.slow
def test_a_real_worker_runs_ping(real_worker_app):
    # A queue of its own, so another worker on the same Redis cannot take the task.
    queue = f"test-ping-{uuid.uuid4().hex}"
    with start_worker(
        real_worker_app, queues=[queue], perform_ping_check=False, shutdown_timeout=30
    ):
        result = tasks.ping.apply_async((41,), queue=queue)
        assert type(result).__name__ == "AsyncResult"  # sent to the broker, not run eagerly
        assert result.get(timeout=20) == 42
    assert result.successful()


def test_beat_schedule_has_the_core_fan_out():
    app.finalize(auto=True)  # what a worker or beat does on start; fires on_after_finalize
    schedule = app.conf.beat_schedule
    assert schedule["concord-periodic"]["task"] == "portal.tasks.fan_out_periodic"
    assert "portal.tasks.fan_out_periodic" in app.tasks


def test_beat_schedule_collects_a_plugins_periodic_job(monkeypatch):
    fake = SimpleNamespace(
        label="reminders",
        meta=PluginMeta(
            name="Reminders",
            version="1.0.0",
            compatibility="concord>=1.0,<2",
            periodic_jobs=(PeriodicJob("nightly", "reminders.tasks.send_due", 86400.0),),
        ),
    )
    monkeypatch.setattr("portal.plugins.available_plugins", lambda: [fake])
    sender = SimpleNamespace(conf=SimpleNamespace(beat_schedule={}))

    collect_beat_schedule(sender)

    assert sender.conf.beat_schedule == {
        "concord-periodic": {"task": "portal.tasks.fan_out_periodic", "schedule": 300.0},
        "reminders.nightly": {"task": "reminders.tasks.send_due", "schedule": 86400.0},
    }
