"""The plugin's settings, in one place: each is a Django setting of the name given, else
the default below. Read once per process and read again when a setting changes (tests).

=================================  ===========================================  ===========
Django setting                     What it does                                 Default
=================================  ===========================================  ===========
PATRON_NOTICES_BASE_URL            site address in a notice's links             the admin's
PATRON_NOTICES_EMAIL_BACKEND       backend of libraries without a mail account  EMAIL_BACKEND
PATRON_NOTICES_MESSAGE_ID_DOMAIN   domain of each message's Message-ID          concord.invalid
PATRON_NOTICES_BATCH_SIZE          delivery rows one batch claims               500
PATRON_NOTICES_PARALLEL            batch chains per notice (busy workers)       4
PATRON_NOTICES_LEASE_SECONDS       how long a batch holds its rows              120
PATRON_NOTICES_CHECK_EVERY         messages between recording outcomes          50
PATRON_NOTICES_CHECK_SECONDS       ... or seconds, whichever comes first        2
PATRON_NOTICES_PIPELINING          SMTP PIPELINING where the server offers it   True
PATRON_NOTICES_MAX_ATTEMPTS        tries of a message before it has failed      5
PATRON_NOTICES_RETRY_BASE_SECONDS  first wait before a retry (doubling)         60
PATRON_NOTICES_RETRY_MAX_SECONDS   longest wait before a retry                  3600
PATRON_NOTICES_QUEUE               Celery queue of the notice tasks             Celery's default
PATRON_IMPORT_MAX_MEGABYTES        largest patron file accepted                 200
PATRON_PREFERENCE_LINK_MAX_AGE     seconds a preferences link stays valid       90 days
PATRON_EXPIRED_RETENTION_DAYS      days an expired patron is kept               365
=================================  ===========================================  ===========
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

from django.conf import settings as django_settings
from django.core.signals import setting_changed


@dataclass(frozen=True)
class PatronNoticesSettings:
    base_url: str = ""
    email_backend: str | None = None
    message_id_domain: str = "concord.invalid"
    batch_size: int = 500
    parallel: int = 4
    lease_seconds: float = 120.0
    check_every: int = 50
    check_seconds: float = 2.0
    pipelining: bool = True
    max_attempts: int = 5
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    queue: str | None = None
    import_max_megabytes: int = 200
    preference_link_max_age: int = 60 * 60 * 24 * 90
    expired_retention_days: int = 365


# Settings named for the patron directory rather than the notices.
_NAMES = {
    "import_max_megabytes": "PATRON_IMPORT_MAX_MEGABYTES",
    "preference_link_max_age": "PATRON_PREFERENCE_LINK_MAX_AGE",
    "expired_retention_days": "PATRON_EXPIRED_RETENTION_DAYS",
}


def setting_name(field: str) -> str:
    return _NAMES.get(field, f"PATRON_NOTICES_{field.upper()}")


@functools.cache
def conf() -> PatronNoticesSettings:
    """The settings as they are now (cached; see the table above)."""
    values = {}
    for f in fields(PatronNoticesSettings):
        name = setting_name(f.name)
        if hasattr(django_settings, name):
            value = getattr(django_settings, name)
            # Typed as the default is, so an environment's "4" is 4.
            kind = type(f.default)
            values[f.name] = kind(value) if kind in (int, float, bool) else value
    found = PatronNoticesSettings(**values)
    if not found.base_url:
        base = getattr(django_settings, "WAGTAILADMIN_BASE_URL", "") or ""
        found = PatronNoticesSettings(**{**found.__dict__, "base_url": base})
    return found


def _changed(sender, setting, **kwargs):
    if setting.startswith("PATRON_") or setting == "WAGTAILADMIN_BASE_URL":
        conf.cache_clear()


setting_changed.connect(_changed, dispatch_uid="patron_notices.conf")
