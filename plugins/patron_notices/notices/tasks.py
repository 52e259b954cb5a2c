"""The notice engine's background jobs; each calls the services that do the work."""

import logging
import time

from celery import bootsteps, current_app, shared_task
from django.db.models import Exists, OuterRef

from portal.background import shows_failures_on
from portal.members.models import MemberLibrary

from ..conf import conf
from ..directory.models import ImportJob
from ..directory.tasks import run_import
from ..outages import TRANSIENT, patiently
from . import leases, letters, queue, sending, services
from .models import Delivery, Notice
from .queue import PUBLISH_RETRY

logger = logging.getLogger(__name__)


@shows_failures_on("notice", "notice_id")
@shared_task(name="patron_notices.start_notice", acks_late=True)
def start_notice(notice_id: int) -> int:
    """Plan the recipients (once) and set the batches going."""
    planned = services.do_start_sending(notice_id)
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
    ``patiently``). A longer outage ends the batch with the error; the chain goes
    on as a retry of this task, which first takes back the rows whose lease ran out."""
    lease = conf().lease_seconds
    try:
        if self.request.retries:
            patiently(time.monotonic() + lease, leases.reap, notice_id=notice_id)
        result = sending.send_batch(notice_id)
    except TRANSIENT as exc:
        logger.warning("Notice %s: batch ended by %s; retrying", notice_id, type(exc).__name__)
        countdown = min(2**self.request.retries, 60)
        raise self.retry(exc=exc, countdown=countdown, retry_policy=PUBLISH_RETRY) from exc
    size = conf().batch_size
    if result.retry_in is not None:
        queue.batches(notice_id, 1, countdown=result.retry_in + 0.5)
    if result.stopped:
        return result.sent
    if result.claimed >= size:
        queue.batches(notice_id, 1)
    elif not patiently(time.monotonic() + lease, leases.finish_if_done, notice_id):
        # Rows left waiting for a retry: a batch when the first is due, so the notice ends
        # without the periodic repair even when the batch queued for them was lost.
        # Not when run eagerly (tests): a countdown is not waited for there.
        wait = patiently(time.monotonic() + lease, leases.next_due, notice_id)
        if wait is not None and not self.request.is_eager:
            queue.batches(notice_id, 1, countdown=wait + 0.5)
    return result.sent


@shared_task(name="patron_notices.resume_after_reconnect", acks_late=True)
def resume_after_reconnect() -> tuple[int, int]:
    """What a broker restart may have lost, queued again: batches for every sending notice
    with rows queued, and every queued import. The tasks queued in the broker, and those a
    worker had taken but not started (a worker drops them when its connection breaks),
    may be gone. Queuing again is harmless: a batch claims only rows nobody holds (one that
    finds none due queues one for when the first is), an import runs once. Returns the
    notices and the imports queued again."""

    queued = Delivery.objects.filter(notice_id=OuterRef("pk"), state=Delivery.State.QUEUED)

    def waiting():
        notices = Notice.objects.filter(state=Notice.State.SENDING).filter(Exists(queued))
        imports = ImportJob.objects.filter(status=ImportJob.Status.QUEUED)
        return list(notices.values_list("pk", flat=True)), list(
            imports.values_list("pk", flat=True)
        )

    lease = conf().lease_seconds
    notice_ids, import_ids = patiently(time.monotonic() + lease, waiting)
    for notice_id in notice_ids:
        queue.batches(notice_id)
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
    return services.do_reap()


@shows_failures_on("notice", "notice_id")
@shared_task(name="patron_notices.send_test_notice")
def send_test_notice(notice_id: int, library_id: int, language: str, addresses: list[str]) -> int:

    notice = Notice.objects.filter(pk=notice_id).first()
    library = MemberLibrary.objects.filter(pk=library_id).first()
    if notice is None or library is None:
        return 0
    return sending.send_test(notice, library, language, addresses)


@shows_failures_on("notice", "notice_id")
@shared_task(name="patron_notices.plan_print_runs", acks_late=True)
def plan_print_runs(notice_id: int) -> int:
    """One print run per library with letters to print, each rendered by its own task."""
    notice = Notice.objects.filter(pk=notice_id, include_print=True).first()
    if notice is None:
        return 0
    run_ids = letters.do_plan_print_runs(notice)
    for run_id in run_ids:
        render_print_run.delay(run_id)
    return len(run_ids)


@shared_task(name="patron_notices.render_print_run", acks_late=True)
def render_print_run(run_id: int) -> str:
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
            resume_after_reconnect.apply_async(retry=True, retry_policy=PUBLISH_RETRY)
        except Exception:  # the periodic repair will do it; the worker must keep running
            logger.exception("Could not queue the resumption after a broker restart")


# Read by a worker when it builds its consumer, after it imported the task modules.
current_app.steps["consumer"].add(ResumeOnReconnect)
