"""Receivers: the core's periodic fan-out closes votes whose window ended."""

from django.dispatch import receiver

from portal.signals import periodic


@receiver(periodic, dispatch_uid="governance.close_due_proposals")
def close_due(sender, now=None, **kwargs):
    """Idempotent: closing an already closed proposal, or announcing twice, does nothing."""
    from .services import close_due_proposals, remind_due_proposals

    close_due_proposals(now=now)
    remind_due_proposals(now=now)
