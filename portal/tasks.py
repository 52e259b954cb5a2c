from celery import shared_task
from django.utils import timezone

from portal.signals import periodic


@shared_task(name="portal.tasks.fan_out_periodic")
def fan_out_periodic():
    """One beat job for all plugins; every receiver must be idempotent."""
    periodic.send_robust(sender=None, now=timezone.now())


@shared_task(name="portal.tasks.ping")
def ping(value: int) -> int:
    """Round-trip check used by health checks and tests of a real worker."""
    return value + 1
