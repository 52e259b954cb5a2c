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


# -- notices -------------------------------------------------------------------------------------


def _queue_kwargs() -> dict:
    from django.conf import settings

    queue = getattr(settings, "PATRON_NOTICES_QUEUE", None)
    return {"queue": queue} if queue else {}


def queue_batches(notice_id: int, count: int | None = None, countdown: float | None = None):
    from django.conf import settings

    count = count or int(getattr(settings, "PATRON_NOTICES_PARALLEL", 4))
    for _ in range(count):
        send_notice_batch.apply_async((notice_id,), countdown=countdown, **_queue_kwargs())


@shared_task(name="patron_notices.start_notice", acks_late=True)
def start_notice(notice_id: int) -> int:
    """Plan the recipients (once) and set the batches going."""
    from . import notices

    planned = notices.do_start_sending(notice_id)
    return planned


@shared_task(name="patron_notices.send_notice_batch", acks_late=True)
def send_notice_batch(notice_id: int) -> int:
    """One batch; a full batch queues the next, so each chain keeps one worker busy."""
    from django.conf import settings

    from . import sending

    result = sending.send_batch(notice_id)
    size = int(getattr(settings, "PATRON_NOTICES_BATCH_SIZE", 500))
    if result.retry_in is not None:
        queue_batches(notice_id, 1, countdown=result.retry_in + 0.5)
    if result.stopped:
        return result.sent
    if result.claimed >= size:
        queue_batches(notice_id, 1)
    else:
        sending.finish_if_done(notice_id)
    return result.sent


@shared_task(name="patron_notices.reap_notices")
def reap_notices() -> int:
    """Idempotent: re-queue rows of dead workers, restart stalled notices, start due ones."""
    from . import notices

    return notices.do_reap()


@shared_task(name="patron_notices.send_test_notice")
def send_test_notice(notice_id: int, library_id: int, language: str, addresses: list[str]) -> int:
    from portal.members.models import MemberLibrary

    from . import sending
    from .models import Notice

    notice = Notice.objects.filter(pk=notice_id).first()
    library = MemberLibrary.objects.filter(pk=library_id).first()
    if notice is None or library is None:
        return 0
    return sending.send_test(notice, library, language, addresses)


@shared_task(name="patron_notices.plan_print_runs", acks_late=True)
def plan_print_runs(notice_id: int) -> int:
    """One print run per library with letters to print, each rendered by its own task."""
    from . import letters
    from .models import Notice

    notice = Notice.objects.filter(pk=notice_id, include_print=True).first()
    if notice is None:
        return 0
    run_ids = letters.do_plan_print_runs(notice)
    for run_id in run_ids:
        render_print_run.apply_async((run_id,), **_queue_kwargs())
    return len(run_ids)


@shared_task(name="patron_notices.render_print_run", acks_late=True)
def render_print_run(run_id: int) -> str:
    from . import letters

    return letters.do_render_print_run(run_id)
