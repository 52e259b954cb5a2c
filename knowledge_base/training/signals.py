"""Receivers: standing assignments follow people who join or move; the periodic beat
re-certifies and reminds. Every periodic receiver is idempotent."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.members.models import Membership
from portal.signals import periodic

from .services.enrolment import do_follow_membership
from .services.recertification import do_recertify
from .services.reminders import do_plan_reminders


@receiver(post_save, sender=Membership, dispatch_uid="training.follow_membership")
def membership_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    # In the same transaction as the membership: no window in which a newcomer is missed.
    do_follow_membership(instance)


@receiver(periodic, dispatch_uid="training.periodic")
def on_periodic(sender, now=None, **kwargs):
    do_recertify(now)
    do_plan_reminders()
