import logging
import time

from celery import bootsteps, current_app, shared_task

from portal.background import shows_failures_on

from .imports import Importer
from .models import ImportJob
from .services import do_purge_expired

logger = logging.getLogger(__name__)


# How long a failed import waits for the database to come back to say that it failed.
IMPORT_WAIT_SECONDS = 600


@shared_task(name="patron_notices.run_import", acks_late=True)
def run_import(job_id: int) -> str:
    from django.db.models import Q
    from django.utils.translation import gettext

    from . import sending

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

    job = sending.patiently(time.monotonic() + IMPORT_WAIT_SECONDS, take)
    if job is None:
        return "skipped"  # already run, or running
    try:
        return Importer(job).run().status
    except Exception as exc:  # noqa: BLE001
        # Only the exception's type is logged: its text might quote a patron's row.
        logger.error("Patron import %s failed: %s", job_id, type(exc).__name__)
        error = type(exc).__name__
        if isinstance(exc, sending.TRANSIENT):
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
        sending.patiently(
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


# -- notices -------------------------------------------------------------------------------------


def _queue_kwargs() -> dict:
    from django.conf import settings

    queue = getattr(settings, "PATRON_NOTICES_QUEUE", None)
    return {"queue": queue} if queue else {}


# Publishing the next batch waits out a broker restart (about a minute in all) rather than
# end the chain: Celery's default gives up after three tries 0.2 s apart.
PUBLISH_RETRY = {"max_retries": 40, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}


def queue_batches(notice_id: int, count: int | None = None, countdown: float | None = None):
    from django.conf import settings

    count = count or int(getattr(settings, "PATRON_NOTICES_PARALLEL", 4))
    for _ in range(count):
        send_notice_batch.apply_async(
            (notice_id,),
            countdown=countdown,
            retry=True,
            retry_policy=PUBLISH_RETRY,
            **_queue_kwargs(),
        )


@shows_failures_on("notice", "notice_id")
@shared_task(name="patron_notices.start_notice", acks_late=True)
def start_notice(notice_id: int) -> int:
    """Plan the recipients (once) and set the batches going."""
    from . import notices

    planned = notices.do_start_sending(notice_id)
    return planned


@shows_failures_on("notice", "notice_id")
@shared_task(
    name="patron_notices.send_notice_batch",
    acks_late=True,
    bind=True,
    max_retries=None,  # a chain is not ended by the database being away, however long
)
def send_notice_batch(self, notice_id: int) -> int:
    """One batch; a full batch queues the next, so each chain keeps one worker busy.

    The batch waits for a restarting database itself, for as long as its lease holds (see
    ``sending.patiently``). A longer outage ends the batch with the error; the chain goes
    on as a retry of this task, which first takes back the rows whose lease ran out."""
    from django.conf import settings

    from . import sending

    lease = float(getattr(settings, "PATRON_NOTICES_LEASE_SECONDS", 120))
    try:
        if self.request.retries:
            sending.patiently(time.monotonic() + lease, sending.reap, notice_id=notice_id)
        result = sending.send_batch(notice_id)
    except sending.TRANSIENT as exc:
        logger.warning("Notice %s: batch ended by %s; retrying", notice_id, type(exc).__name__)
        countdown = min(2**self.request.retries, 60)
        raise self.retry(exc=exc, countdown=countdown, retry_policy=PUBLISH_RETRY) from exc
    size = int(getattr(settings, "PATRON_NOTICES_BATCH_SIZE", 500))
    if result.retry_in is not None:
        queue_batches(notice_id, 1, countdown=result.retry_in + 0.5)
    if result.stopped:
        return result.sent
    if result.claimed >= size:
        queue_batches(notice_id, 1)
    elif not sending.patiently(time.monotonic() + lease, sending.finish_if_done, notice_id):
        # Rows left waiting for a retry: a batch when the first is due, so the notice ends
        # without the periodic repair even when the batch queued for them was lost.
        # Not when run eagerly (tests): a countdown is not waited for there.
        wait = sending.patiently(time.monotonic() + lease, sending.next_due, notice_id)
        if wait is not None and not self.request.is_eager:
            queue_batches(notice_id, 1, countdown=wait + 0.5)
    return result.sent


@shared_task(name="patron_notices.resume_after_reconnect", acks_late=True)
def resume_after_reconnect() -> tuple[int, int]:
    """What a broker restart may have lost, queued again: batches for every sending notice
    with rows queued, and every queued import. The tasks queued in the broker, and those a
    worker had taken but not started (a worker drops them when its connection breaks),
    may be gone. Queuing again is harmless: a batch claims only rows nobody holds (one that
    finds none due queues one for when the first is), an import runs once. Returns the
    notices and the imports queued again."""
    from django.conf import settings
    from django.db.models import Exists, OuterRef

    from . import sending
    from .models import Delivery, Notice

    queued = Delivery.objects.filter(notice_id=OuterRef("pk"), state=Delivery.State.QUEUED)

    def waiting():
        notices = Notice.objects.filter(state=Notice.State.SENDING).filter(Exists(queued))
        imports = ImportJob.objects.filter(status=ImportJob.Status.QUEUED)
        return list(notices.values_list("pk", flat=True)), list(
            imports.values_list("pk", flat=True)
        )

    lease = float(getattr(settings, "PATRON_NOTICES_LEASE_SECONDS", 120))
    notice_ids, import_ids = sending.patiently(time.monotonic() + lease, waiting)
    for notice_id in notice_ids:
        queue_batches(notice_id)
    for job_id in import_ids:
        run_import.apply_async((job_id,), retry=True, retry_policy=PUBLISH_RETRY)
    if notice_ids or import_ids:
        logger.warning(
            "Back on the broker: queued again the batches of notices %s, the imports %s",
            notice_ids,
            import_ids,
        )
    return len(notice_ids), len(import_ids)


@shared_task(name="patron_notices.reap_notices")
def reap_notices() -> int:
    """Idempotent: re-queue rows of dead workers, restart stalled notices, start due ones."""
    from . import notices

    return notices.do_reap()


@shows_failures_on("notice", "notice_id")
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


@shows_failures_on("notice", "notice_id")
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


class ResumeOnReconnect(bootsteps.StartStopStep):
    """When a worker's connection to the broker is back after breaking, notices and
    imports go on at once rather than at the next periodic repair (notices) or never
    (imports): see :func:`resume_after_reconnect`."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, c):
        if c.restart_count <= 0:  # 0 is the worker's first connection
            return
        try:
            resume_after_reconnect.apply_async(
                retry=True, retry_policy=PUBLISH_RETRY, **_queue_kwargs()
            )
        except Exception:  # the periodic repair will do it; the worker must keep running
            logger.exception("Could not queue the resumption after a broker restart")


# Read by a worker when it builds its consumer, after it imported the task modules.
current_app.steps["consumer"].add(ResumeOnReconnect)
