"""Production: every secret and address from the environment; secure by default."""

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env_list, file_storages


def required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} must be set in production.")
    return value


DEBUG = False
SECRET_KEY = required("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or [required("ALLOWED_HOSTS")]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
required("DATABASE_URL")
required("REDIS_URL")
# Keep each worker thread's database connection for a minute rather than opening one per
# request (a connect costs ~12 ms, more than a whole plain page); the health check makes a
# connection that PostgreSQL or a pooler closed meanwhile be replaced, not fail the request.
# DATABASE_CONN_MAX_AGE=0 goes back to a connection per request (e.g. behind PgBouncer in
# transaction mode, which pools for us).
DATABASES["default"]["CONN_MAX_AGE"] = int(  # noqa: F405
    os.environ.get("DATABASE_CONN_MAX_AGE", "60")
)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "true").lower() == "true"
# Probes come over plain HTTP from inside the host or the container network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(60 * 60 * 8)))
CSRF_COOKIE_SECURE = True
# X_FRAME_OPTIONS: SAMEORIGIN from base.py, with the CSP's frame-ancestors 'self' (the
# admin's preview frames the site's own pages). Django's deploy check asks for DENY
# (security.W019); no other site may frame Concord either way, so that one is silenced.
SILENCED_SYSTEM_CHECKS = ["security.W019"]

# Files: chosen, never assumed. "s3" for object storage that every machine shares; "local"
# only where one machine runs the web server and every worker (docs/deploy.md, "Files").
CONCORD_STORAGE = required("CONCORD_STORAGE")
if CONCORD_STORAGE not in ("s3", "local"):
    raise ImproperlyConfigured("CONCORD_STORAGE must be s3 or local.")
if CONCORD_STORAGE == "s3":
    required("S3_BUCKET")
STORAGES = file_storages("django.contrib.staticfiles.storage.ManifestStaticFilesStorage")


def badge_signing_key() -> str:
    """The training badges' key, which every machine shares: never generated here."""
    pem = TRAINING_BADGE_SIGNING_KEY
    if not pem and os.environ.get("TRAINING_BADGE_KEY_FILE"):
        try:
            pem = Path(os.environ["TRAINING_BADGE_KEY_FILE"]).read_text()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"TRAINING_BADGE_KEY_FILE cannot be read: {exc.strerror}."
            ) from exc
    if not pem:
        raise ImproperlyConfigured(
            "Set TRAINING_BADGE_SIGNING_KEY (or TRAINING_BADGE_KEY_FILE) in production: every "
            "machine must sign training badges with the same key (openssl genpkey -algorithm "
            "ed25519)."
        )
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except ValueError as exc:
        raise ImproperlyConfigured("The training badge signing key is not a PEM key.") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("The training badge signing key must be an Ed25519 key.")
    return pem


TRAINING_BADGE_SIGNING_KEY = badge_signing_key()

# Logs: JSON lines (LOG_FORMAT=plain for reading by eye), personal data masked.
LOGGING = {
    **LOGGING,  # noqa: F405
    "filters": {"personal_data": {"()": "portal.observability.logging.MaskPersonalData"}},
    "formatters": {
        **LOGGING["formatters"],  # noqa: F405
        "json": {"()": "portal.observability.logging.JSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": os.environ.get("LOG_FORMAT", "json"),
            "filters": ["personal_data"],
        }
    },
}

# One cache for every worker and machine: login, MFA and API throttles count per person,
# not per process (LocMemCache would give each gunicorn worker its own count).
CACHES = {
    "default": {
        "BACKEND": "portal.cache.RedisCache",  # one client per pool: see portal/cache.py
        "LOCATION": os.environ.get("REDIS_CACHE_URL") or os.environ["REDIS_URL"],
        "KEY_PREFIX": "concord",
        "TIMEOUT": 300,
    }
}

# Sessions read from that cache, written through to the database: a signed-in page skips
# the session query, and a cleared cache signs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Checkpoints of the audit chain's head, outside the database (see docs/security.md).
AUDIT_CHECKPOINT_FILE = os.environ.get(
    "AUDIT_CHECKPOINT_FILE",
    str(VAR_DIR / "audit" / "checkpoints.jsonl"),  # noqa: F405
)
