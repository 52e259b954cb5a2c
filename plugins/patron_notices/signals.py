"""Receivers: the periodic fan-out repairs and starts notices."""

from django.dispatch import receiver

from portal.signals import periodic

from .tasks import reap_notices


@receiver(periodic, dispatch_uid="patron_notices.reap")
def reap_on_periodic(sender, now, **kwargs):
    # Idempotent: re-queues only expired leases, starts only due notices (under a row lock).
    reap_notices.apply_async(**_queue())


def _queue() -> dict:
    from .tasks import _queue_kwargs

    return _queue_kwargs()
