"""Receivers: the core's periodic fan-out closes votes whose window ended."""

from django.dispatch import receiver

from portal.signals import periodic

from .services.closing import close_due_proposals
from .services.notifications import remind_due_proposals


@receiver(periodic, dispatch_uid="governance.close_due_proposals")
def close_due(sender, now=None, **kwargs):
    """Idempotent: closing an already closed proposal, or announcing twice, does nothing."""
    close_due_proposals(now=now)
    remind_due_proposals(now=now)
