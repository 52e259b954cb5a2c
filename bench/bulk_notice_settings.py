"""Settings of the Celery workers that bench/bulk_notice.py starts: dev settings without
DEBUG (which would keep every query in memory), the bench's queue and batch size."""

import os

from portal.settings.dev import *  # noqa: F403

DEBUG = False
CELERY_TASK_ALWAYS_EAGER = False
PATRON_NOTICES_QUEUE = os.environ["NOTICE_QUEUE"]
PATRON_NOTICES_BATCH_SIZE = int(os.environ.get("NOTICE_BATCH", "500"))
PATRON_NOTICES_CHECK_EVERY = int(os.environ.get("NOTICE_CHECK_EVERY", "100"))
PATRON_NOTICES_PARALLEL = int(os.environ.get("NOTICE_PARALLEL", "4"))
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
