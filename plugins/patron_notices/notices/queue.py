"""Setting the engine's tasks going. The services call these, on commit; the tasks call the
services. A task is named as Celery registered it (``patron_notices.*``, the names queued
messages and the beat schedule use), so neither the services nor this module imports
``tasks.py``: no cycle.

Which queue a task goes to is Celery's ``task_routes``: :func:`route` sends every task of
the engine to ``PATRON_NOTICES_QUEUE`` when it is set, whoever queues it (a service, a
task, Celery's own retries, beat); the plugin declares it (``PluginMeta.task_router``)
and the core adds it to the routes after the deployment's own. The directory's tasks
(imports, the purge) stay on Celery's default queue.
"""

from __future__ import annotations

from portal.background import enqueue as enqueue_named

from ..conf import conf

START = "patron_notices.start_notice"
BATCH = "patron_notices.send_notice_batch"
REAP = "patron_notices.reap_notices"
RESUME = "patron_notices.resume_after_reconnect"
TEST_COPIES = "patron_notices.send_test_notice"
PLAN_PRINT_RUNS = "patron_notices.plan_print_runs"
RENDER_PRINT_RUN = "patron_notices.render_print_run"

# Publishing the next batch waits out a broker restart (about a minute in all) rather than
# end the chain: Celery's default gives up after three tries 0.2 s apart.
PUBLISH_RETRY = {"max_retries": 40, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}


# Every task of the engine: what PATRON_NOTICES_QUEUE moves.
ENGINE_TASKS = frozenset(
    {START, BATCH, REAP, RESUME, TEST_COPIES, PLAN_PRINT_RUNS, RENDER_PRINT_RUN}
)


def route(name, args=None, kwargs=None, options=None, task=None, **rest) -> dict | None:
    """A Celery router (an entry of ``task_routes``): the engine's tasks to
    ``PATRON_NOTICES_QUEUE`` when it is set; None leaves a task to the next route, or to
    Celery's default queue. Read at each send, so a changed setting takes effect."""
    queue = conf().queue
    if queue and name in ENGINE_TASKS:
        return {"queue": queue}
    return None


def enqueue(task: str, *args, **options) -> None:
    """Queue ``task`` now: by its registered name (run at once where Celery is eager)."""
    enqueue_named(task, *args, **options)


def batches(notice_id: int, count: int | None = None, countdown: float | None = None) -> None:
    """``count`` batch chains of the notice (PATRON_NOTICES_PARALLEL by default)."""
    for _ in range(count or conf().parallel):
        enqueue(BATCH, notice_id, countdown=countdown, retry=True, retry_policy=PUBLISH_RETRY)
