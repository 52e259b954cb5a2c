"""Receivers: the core's periodic fan-out closes votes whose window ended."""

from django.dispatch import receiver

from portal.signals import periodic

from . import services


@receiver(periodic, dispatch_uid="governance.close_due_proposals")
def close_due(sender, now=None, **kwargs):
    """Idempotent: closing an already closed proposal, or announcing twice, does nothing."""
    services.close_due_proposals(now=now)
    services.remind_due_proposals(now=now)
