"""Concord core: member libraries, roles, the plugin contract and shared services."""

__version__ = "1.0.0"

from .celery import app as celery_app

__all__ = ["celery_app"]
