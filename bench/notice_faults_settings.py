"""Settings of the workers bench/notice_faults.py starts: the engine tests' worker settings
with a short retry delay, so the recipients refused once with a 451 are sent in the run."""

import os

from tests.patron_notices.worker_settings import *  # noqa: F403

PATRON_NOTICES_RETRY_BASE_SECONDS = float(os.environ.get("NOTICE_RETRY_BASE", "60"))
