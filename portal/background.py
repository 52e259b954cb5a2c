"""A background task that fails shows on the page of the thing it was for.

A task names what it works on with :func:`shows_failures_on`; when it fails, a worker
records a :class:`~portal.models.TaskProblem` in words a person can act on, and the next
success of the same task for the same thing clears it. Pages read :func:`problems_for`.
Nothing here may hide the task's own failure: recording is best effort.
"""

from __future__ import annotations

import logging
import smtplib
import socket

from celery.signals import task_failure, task_success
from django.db import DatabaseError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import TaskProblem

logger = logging.getLogger(__name__)

# (task, subject label, name of the argument that holds the id). Task names are read only
# when a signal comes: a shared task is a proxy until the Celery app is finalised.
_REGISTERED: list[tuple[object, str, str]] = []
_WATCHED: dict[str, tuple[str, str]] = {}


def _watched() -> dict[str, tuple[str, str]]:
    if len(_WATCHED) < len(_REGISTERED):
        for task, label, argument in _REGISTERED:
            _WATCHED[task.name] = (label, argument)
    return _WATCHED


def shows_failures_on(label: str, argument: str):
    """Decorate a Celery task (above ``@shared_task``): its failures for the object whose
    id is ``argument`` show on that object's page, under ``label`` (e.g. "notice")."""

    def register(task):
        _REGISTERED.append((task, label, argument))
        return task

    return register


def subject_of(label: str, object_id) -> str:
    return f"{label}:{object_id}"


def describe(exc: BaseException) -> str:
    """The failure in words a person can act on (the technical detail in brackets)."""
    detail = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, OperationalError | DatabaseError):
        return _(
            "The database refused the work (%(detail)s). Concord tries again by itself; if "
            "this stays, ask whoever runs the server to check the database."
        ) % {"detail": detail}
    if isinstance(exc, smtplib.SMTPException | socket.error | ConnectionError):
        return _(
            "The mail server could not be reached or refused the message (%(detail)s). Check "
            "the mail settings (EMAIL_HOST and friends); Concord tries again by itself."
        ) % {"detail": detail}
    return _(
        "Something went wrong in the background (%(detail)s). Concord tries again by "
        "itself; if this stays, send this message to whoever runs the server."
    ) % {"detail": detail}


def _subject(sender, args, kwargs) -> str | None:
    watched = _watched().get(getattr(sender, "name", ""))
    if watched is None:
        return None
    label, argument = watched
    value = (kwargs or {}).get(argument)
    if value is None and args:
        value = args[0]
    return subject_of(label, value) if value is not None else None


def record_failure(task_name: str, subject: str, exc: BaseException) -> None:
    now = timezone.now()
    with transaction.atomic():
        problem = (
            TaskProblem.objects.select_for_update()
            .filter(subject=subject, task_name=task_name, resolved_at__isnull=True)
            .first()
        )
        if problem is None:
            TaskProblem.objects.create(
                subject=subject, task_name=task_name, message=describe(exc), first_at=now
            )
        else:
            problem.message, problem.last_at = describe(exc), now
            problem.failures += 1
            problem.save(update_fields=["message", "last_at", "failures"])


@task_failure.connect
def on_task_failure(sender=None, args=None, kwargs=None, exception=None, **extra):
    subject = _subject(sender, args, kwargs)
    if subject is None or exception is None:
        return
    try:
        record_failure(sender.name, subject, exception)
    except Exception:  # noqa: BLE001 - the database may be what failed
        logger.warning("could not record the failure of %s for %s", sender.name, subject)


@task_success.connect
def on_task_success(sender=None, **extra):
    request = getattr(sender, "request", None)
    subject = _subject(sender, getattr(request, "args", None), getattr(request, "kwargs", None))
    if subject is None:
        return
    try:
        TaskProblem.objects.filter(
            subject=subject, task_name=sender.name, resolved_at__isnull=True
        ).update(resolved_at=timezone.now())
    except DatabaseError:
        logger.warning("could not clear the problems of %s for %s", sender.name, subject)


def problems_for(label: str, object_id) -> list:
    """Unresolved problems of the thing, newest first (one query)."""
    return list(
        TaskProblem.objects.filter(
            subject=subject_of(label, object_id), resolved_at__isnull=True
        ).order_by("-last_at")
    )


def enqueue(task: str, *args, **options):
    """Queue the task registered under the name ``task`` (its ``name=``), with ``args``.

    By name, so a module's services set its tasks going without importing the tasks module
    that calls them (no import cycle); eager where Celery is eager, routed by the options
    given and Celery's ``task_routes``."""
    from celery import current_app

    if task not in current_app.tasks:
        # Outside a worker the tasks modules are imported only when something imports them:
        # import every app's, as a worker does when it starts.
        current_app.loader.import_default_modules()
    return current_app.signature(task, args=args).apply_async(**options)
