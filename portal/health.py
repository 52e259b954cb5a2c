"""Liveness and readiness endpoints for load balancers, orchestrators and monitoring.

``/healthz`` answers as long as the process can serve a request: it touches nothing else,
so a slow database never gets a healthy web process restarted. ``/readyz`` checks what a
request needs — the database, Redis and at least one Celery worker — and answers 503 when
any of them fails, so the proxy stops sending traffic until they are back.
"""

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.celery import app

# Short, so a readiness probe never hangs longer than the orchestrator waits for it.
WORKER_PING_TIMEOUT = float(getattr(settings, "CONCORD_READY_WORKER_TIMEOUT", 1.0))
REDIS_TIMEOUT = 1.0


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_redis() -> str:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def check_workers() -> str:
    replies = app.control.ping(timeout=WORKER_PING_TIMEOUT)
    if not replies:
        raise RuntimeError("no Celery worker answered a ping")
    return f"{len(replies)} worker(s)"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "redis": check_redis,
    "workers": check_workers,
}


def run_checks() -> tuple[bool, dict]:
    """Every check runs even when an earlier one failed, so the report names them all."""
    results, healthy = {}, True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail, status = check(), "ok"
        except Exception as exc:  # noqa: BLE001 - any failure makes the portal not ready
            detail, status, healthy = f"{type(exc).__name__}: {exc}", "fail", False
        results[name] = {
            "status": status,
            "detail": detail,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return healthy, results


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    healthy, checks = run_checks()
    return JsonResponse(
        {"status": "ok" if healthy else "fail", "checks": checks}, status=200 if healthy else 503
    )


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
