"""The directory's background jobs: an import, and the purge of expired patrons."""

import logging
import time

from celery import shared_task
from django.db.models import Q
from django.utils.translation import gettext

from ..outages import TRANSIENT, patiently
from .importer import Importer
from .models import ImportJob
from .services import do_purge_expired

logger = logging.getLogger(__name__)


# How long a failed import waits for the database to come back to say that it failed.
IMPORT_WAIT_SECONDS = 600


@shared_task(name="patron_notices.run_import", acks_late=True)
def run_import(job_id: int) -> str:
    tries = 0

    def take():
        """The job, taken for this run in one statement: a job queued twice (a redelivered
        message, a resumption after a broker restart) runs once. After a connection that
        broke under the statement, a job taken but not started is this run's."""
        nonlocal tries
        tries += 1
        jobs = ImportJob.objects.filter(pk=job_id)
        mine = Q(status=ImportJob.Status.QUEUED)
        if tries > 1:
            mine |= Q(status=ImportJob.Status.RUNNING, started_at__isnull=True)
        if not jobs.filter(mine).update(status=ImportJob.Status.RUNNING):
            return None
        return jobs.select_related("library").first()

    job = patiently(time.monotonic() + IMPORT_WAIT_SECONDS, take)
    if job is None:
        return "skipped"  # already run, or running
    try:
        return Importer(job).run().status
    except Exception as exc:  # noqa: BLE001
        # Only the exception's type is logged: its text might quote a patron's row.
        logger.error("Patron import %s failed: %s", job_id, type(exc).__name__)
        error = type(exc).__name__
        if isinstance(exc, TRANSIENT):
            error = gettext(
                "The connection to the database was lost during the import. An import is "
                "written all at once or not at all, and the same file imported again "
                "changes only what differs: run it again."
            )
        # Said even when the database is restarting: once it answers. A job whose finish
        # was committed before the connection broke keeps its outcome.
        unfinished = ImportJob.objects.filter(pk=job_id).exclude(
            status__in=[ImportJob.Status.DONE, ImportJob.Status.REJECTED]
        )
        patiently(
            time.monotonic() + IMPORT_WAIT_SECONDS,
            unfinished.update,
            status=ImportJob.Status.FAILED,
            phase=ImportJob.Phase.FAILED,
            error=error,
        )
        return ImportJob.Status.FAILED


@shared_task(name="patron_notices.purge_expired_patrons")
def purge_expired_patrons() -> int:
    return do_purge_expired()
