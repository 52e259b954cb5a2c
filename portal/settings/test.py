"""Tests: the database and Redis come from DATABASE_URL / REDIS_URL (PostgreSQL in CI)."""

import os
from urllib.parse import urlsplit, urlunsplit

# Parallel test processes (pytest-xdist: gw0, gw1, ...) each take their own Redis database,
# so one process's queues, locks, rate limits and cache never meet another's.
# Once per process tree: the workers and servers a test starts inherit the environment, and
# must land on the same database as the test, not one further on.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and os.environ.get("CONCORD_TEST_REDIS_FOR") != _worker:
    _redis = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    _db = int(_redis.path.strip("/") or 0) + 1 + int(_worker[2:])
    os.environ["REDIS_URL"] = urlunsplit(_redis._replace(path=f"/{_db % 16}"))
    os.environ["CONCORD_TEST_REDIS_FOR"] = _worker

from .base import *  # noqa: E402, F403

DEBUG = False
SECRET_KEY = "test-only-key"  # noqa: S105
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ACCOUNT_RATE_LIMITS = False
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "true") == "true"
WAGTAILADMIN_BASE_URL = "http://testserver"
# Tests that checkpoint the audit chain give their own file (an operator's would not match).
AUDIT_CHECKPOINT_FILE = ""
AUDIT_CHECKPOINT_EMAILS = []

# Each pytest process gets its own test database, so parallel runs never drop each other's.
if "postgresql" in DATABASES["default"]["ENGINE"]:  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"test_concord_{os.getpid()}"}  # noqa: F405

# Browser tests restore the migrated database after they flush it (serialized_rollback).
# The roles live outside that snapshot: a flush's post_migrate, or after a restore the
# fixture in tests/conftest.py, puts the built-in ones back; restoring them too would clash.
TEST_NON_SERIALIZED_APPS = ["portal.members"]
