"""Riding out a database restart: statements run again, with backoff, while the database
does not answer."""

from __future__ import annotations

import contextlib
import logging
import time

import redis
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)


# What a database restart or failover raises: the connection was closed under a statement
# ("terminating connection due to administrator command"), or none can be opened yet.
TRANSIENT = (OperationalError, InterfaceError)
# The rate limits' counters are in Redis, which may be restarting too.
REDIS_TRANSIENT = (redis.ConnectionError, redis.TimeoutError)


def patiently(deadline: float, fn, *args, errors: tuple = TRANSIENT, **kwargs):
    """``fn(*args, **kwargs)``, run again with backoff (up to 1 s apart) while it fails with
    one of ``errors``, until ``deadline`` (a ``time.monotonic()``); then its error.

    Only for work that may be repeated: a statement whose connection broke may or may not
    have committed. The broken connection is closed; the next statement opens another.
    Inside an outer transaction nothing can be repeated, so the error is raised at once."""
    pause = 0.05
    while True:
        try:
            return fn(*args, **kwargs)
        except errors as exc:
            if connection.in_atomic_block or time.monotonic() + pause > deadline:
                raise
            name = getattr(fn, "__name__", "a database call")
            logger.warning("%s: %s; again in %.2f s", name, type(exc).__name__, pause)
            with contextlib.suppress(Exception):  # closing a broken connection
                connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
