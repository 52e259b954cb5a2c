"""The embedded default: SQLite, a local or embedded Redis, mail to the console."""

import os

from .base import *  # noqa: F403
from .base import VAR_DIR

DEBUG = True
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
# The periodic fan-out (votes closed at their deadline, digests, reminders) every minute
# rather than every five, so someone trying the demo sees results without waiting.
CONCORD_PERIODIC_SECONDS = float(os.environ.get("CONCORD_PERIODIC_SECONDS", "60"))
