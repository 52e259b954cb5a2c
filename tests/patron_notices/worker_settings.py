"""Settings of the Celery worker processes that the engine tests start."""

import os

from portal.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
PATRON_NOTICES_QUEUE = os.environ["NOTICE_QUEUE"]
PATRON_NOTICES_LEASE_SECONDS = float(os.environ.get("NOTICE_LEASE", "120"))
PATRON_NOTICES_BATCH_SIZE = int(os.environ.get("NOTICE_BATCH", "500"))
PATRON_NOTICES_CHECK_EVERY = int(os.environ.get("NOTICE_CHECK_EVERY", "50"))
PATRON_NOTICES_PARALLEL = int(os.environ.get("NOTICE_PARALLEL", "4"))
PATRON_NOTICES_CHECK_SECONDS = float(os.environ.get("NOTICE_CHECK_SECONDS", "2"))
