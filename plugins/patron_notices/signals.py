"""Receivers: the periodic fan-out repairs and starts notices; providers' bounces and
complaints feed the suppression list."""

from anymail.signals import tracking
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver
from wagtail.signals import workflow_approved

from portal.members.models import Membership
from portal.signals import memberships_rebuilt, periodic

from . import bounces
from .tasks import reap_notices


@receiver(periodic, dispatch_uid="patron_notices.reap")
def reap_on_periodic(sender, now, **kwargs):
    # Idempotent: re-queues only expired leases, starts only due notices (under a row lock).
    reap_notices.apply_async(**_queue())


def _queue() -> dict:
    from .tasks import _queue_kwargs

    return _queue_kwargs()


# One receiver per process whatever the number of imports.
tracking.connect(bounces.on_tracking, dispatch_uid="patron_notices.bounces")


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="patron_notices.drafters")
def membership_changed(sender, instance, **kwargs):
    # After the core's own receiver has resolved the person's grants.
    from .notices import sync_drafters_group

    sync_drafters_group(instance.user_id)


@receiver(memberships_rebuilt, dispatch_uid="patron_notices.admin_groups")
def memberships_rebuilt_in_bulk(sender, **kwargs):
    from .import_admin import sync_all_admin_keepers
    from .notices import sync_all_drafters

    sync_all_drafters()
    sync_all_admin_keepers()


@receiver(post_migrate, dispatch_uid="patron_notices.approval_workflow")
def approval_workflow(sender, **kwargs):
    if sender.label == "patron_notices":
        from .notices import ensure_approval_workflow, sync_all_drafters

        ensure_approval_workflow()
        sync_all_drafters()


def _workflow_approved(sender, instance, user=None, **kwargs):
    from .notices import on_workflow_approved

    on_workflow_approved(sender, instance, user=user, **kwargs)


workflow_approved.connect(_workflow_approved, dispatch_uid="patron_notices.workflow_approved")
