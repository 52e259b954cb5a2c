"""Celery task metrics for the office: queued per queue (Redis LLEN), active and reserved
per worker (``celery inspect`` with a short timeout), and failures counted per task.

Failures are counted by a ``task_failure`` receiver in each worker into one Redis hash,
so the count covers every worker on every machine.
"""

from dataclasses import dataclass, field

import redis
from celery.signals import task_failure
from django.conf import settings
from django.utils import timezone

from portal.celery import app

FAILURES_KEY = "concord:metrics:task-failures"
LAST_FAILURE_KEY = "concord:metrics:task-last-failure"
INSPECT_TIMEOUT = 1.0


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def queue_names() -> list[str]:
    names = set(getattr(settings, "CONCORD_METRICS_QUEUES", ()))
    names.add(app.conf.task_default_queue or "celery")
    for queue in app.conf.task_queues or ():
        names.add(queue.name)
    return sorted(names)


@task_failure.connect
def count_failure(sender=None, **kwargs):
    """Runs in the worker. Never lets a metrics problem hide the task's own failure."""
    name = getattr(sender, "name", None) or "unknown"
    try:
        client = _redis()
        with client.pipeline() as pipe:
            pipe.hincrby(FAILURES_KEY, name, 1)
            pipe.hset(LAST_FAILURE_KEY, name, timezone.now().isoformat())
            pipe.execute()
    except redis.RedisError:
        pass


@dataclass
class TaskMetrics:
    queued: dict[str, int] = field(default_factory=dict)
    workers: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[tuple[str, int, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def active(self) -> int:
        return sum(w["active"] for w in self.workers.values())

    @property
    def reserved(self) -> int:
        return sum(w["reserved"] for w in self.workers.values())


def collect(timeout: float = INSPECT_TIMEOUT) -> TaskMetrics:
    metrics = TaskMetrics()
    try:
        client = _redis()
        with client.pipeline() as pipe:
            names = queue_names()
            for name in names:
                pipe.llen(name)
            pipe.hgetall(FAILURES_KEY)
            pipe.hgetall(LAST_FAILURE_KEY)
            *lengths, failures, last = pipe.execute()
        metrics.queued = dict(zip(names, lengths, strict=True))
        metrics.failures = sorted(
            (
                (task.decode(), int(count), last.get(task, b"").decode())
                for task, count in failures.items()
            ),
            key=lambda row: -row[1],
        )
    except redis.RedisError as exc:
        metrics.problems.append(f"Redis: {exc}")
    inspect = app.control.inspect(timeout=timeout)
    active = inspect.active() or {}
    reserved = inspect.reserved() or {}
    for worker in sorted(set(active) | set(reserved)):
        metrics.workers[worker] = {
            "active": len(active.get(worker) or ()),
            "reserved": len(reserved.get(worker) or ()),
        }
    return metrics
