"""Tests: the database and Redis come from DATABASE_URL / REDIS_URL (PostgreSQL in CI)."""

import os

from .base import *  # noqa: F403

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
