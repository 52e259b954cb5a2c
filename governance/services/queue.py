"""Setting a governance task going: by the name Celery registered it under
(``governance.<task>``), so the services need no import of ``tasks.py``, which calls them,
and only once the write that asked for it has committed. Governance has no queue of its
own; a deployment routes its tasks with Celery's ``task_routes``."""

from __future__ import annotations

import logging

from django.db import transaction

from portal.background import enqueue as enqueue_named

logger = logging.getLogger(__name__)


def enqueue(task: str, *args) -> None:
    """Queue ``governance.<task>`` now; a broker outage is logged, and must not undo the
    write committed before it."""
    try:
        enqueue_named(f"governance.{task}", *args)
    except Exception:
        logger.exception("Could not queue %s%r", task, args)


def enqueue_on_commit(task: str, *args) -> None:
    """Queue ``governance.<task>`` when the current transaction commits (at once outside
    one), so a worker never reads a row the write has not committed yet."""
    transaction.on_commit(lambda: enqueue(task, *args))
