"""Celery finds a plugin's tasks in its ``tasks`` module: the directory's and the notices'.

Each task keeps the name it was registered under (``patron_notices.*``), which queued
messages and the beat schedule refer to, whichever module defines it."""

from .directory import tasks as directory_tasks  # noqa: F401
from .notices import tasks as notice_tasks  # noqa: F401
