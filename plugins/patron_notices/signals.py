"""Receivers: the periodic fan-out repairs and starts notices; providers' bounces and
complaints feed the suppression list."""

from anymail.signals import tracking
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver
from wagtail.signals import workflow_approved

from portal.admin_door import sync_doors
from portal.members.models import Membership
from portal.signals import memberships_rebuilt, periodic

from .directory.admin import KEEPERS
from .notices import bounces, queue, services


@receiver(periodic, dispatch_uid="patron_notices.reap")
def reap_on_periodic(sender, now, **kwargs):
    # Idempotent: re-queues only expired leases, starts only due notices (under a row lock).
    queue.enqueue(queue.REAP)


# One receiver per process whatever the number of imports.
tracking.connect(bounces.on_tracking, dispatch_uid="patron_notices.bounces")


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="patron_notices.drafters")
def membership_changed(sender, instance, **kwargs):
    # After the core's own receiver has resolved the person's grants.
    sync_doors(instance.user_id, _admin_doors())


@receiver(memberships_rebuilt, dispatch_uid="patron_notices.admin_groups")
def memberships_rebuilt_in_bulk(sender, **kwargs):
    for door in _admin_doors():
        door.rebuild()


def _admin_doors():
    return (services.DRAFTERS, KEEPERS)


@receiver(post_migrate, dispatch_uid="patron_notices.approval_workflow")
def approval_workflow(sender, **kwargs):
    if sender.label == "patron_notices":
        services.ensure_approval_workflow()
        for door in _admin_doors():
            door.rebuild()


def _workflow_approved(sender, instance, user=None, **kwargs):
    services.on_workflow_approved(sender, instance, user=user, **kwargs)


workflow_approved.connect(_workflow_approved, dispatch_uid="patron_notices.workflow_approved")
