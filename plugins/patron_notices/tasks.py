import logging

from celery import shared_task

from .imports import Importer
from .models import ImportJob
from .services import do_purge_expired

logger = logging.getLogger(__name__)


@shared_task(name="patron_notices.run_import", acks_late=True)
def run_import(job_id: int) -> str:
    job = (
        ImportJob.objects.select_related("library")
        .filter(pk=job_id, status=ImportJob.Status.QUEUED)
        .first()
    )
    if job is None:
        return "skipped"  # already run (a redelivered message)
    try:
        return Importer(job).run().status
    except Exception as exc:  # noqa: BLE001
        # Only the exception's type is logged: its text might quote a patron's row.
        logger.error("Patron import %s failed: %s", job_id, type(exc).__name__)
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED, error=type(exc).__name__
        )
        return ImportJob.Status.FAILED


@shared_task(name="patron_notices.purge_expired_patrons")
def purge_expired_patrons() -> int:
    return do_purge_expired()
