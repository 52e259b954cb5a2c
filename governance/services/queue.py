"""Setting a governance task going: by the name Celery registered it under
(``governance.<task>``), so the services need no import of ``tasks.py``, which calls them.
Governance has no queue of its own: Celery's ``task_routes`` route its tasks if needed."""

from __future__ import annotations

import logging

from portal.background import enqueue as enqueue_named

logger = logging.getLogger(__name__)


def enqueue(task: str, *args) -> None:
    """Queue ``governance.<task>`` now (call it on commit); a broker outage is logged, and
    must not undo the write that was committed before it."""
    try:
        enqueue_named(f"governance.{task}", *args)
    except Exception:
        logger.exception("Could not queue %s%r", task, args)
