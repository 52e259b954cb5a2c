"""Receivers: Wagtail publication, committee decisions and the periodic beat."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from wagtail.signals import page_published

from portal.signals import periodic, proposal_decided

from .models import PolicyChange, PolicyPage
from .services.adoption import close_comment_periods, do_decide_change, publish_due_changes
from .services.publication import record_published_version
from .services.reminders import plan_acknowledgement_reminders, plan_review_reminders
from .tasks import send_acknowledgement_reminder, send_review_reminder

logger = logging.getLogger(__name__)


@receiver(page_published, sender=PolicyPage, dispatch_uid="policies.page_published")
def policy_page_published(sender, instance, revision, **kwargs):
    record_published_version(instance, revision)


@receiver(proposal_decided, dispatch_uid="policies.proposal_decided")
def adopt_decided_change(sender, proposal, outcome, subject=None, **kwargs):
    # Only proposals about one of our changes concern us; the rest belong to others.
    if not isinstance(subject, PolicyChange):
        return
    do_decide_change(subject, outcome, proposal=proposal)


@receiver(periodic, dispatch_uid="policies.periodic")
def policies_periodic(sender, now=None, **kwargs):
    """Every five minutes: close comment periods, publish what is due, plan reminders."""
    today = timezone.localdate(now) if now else timezone.localdate()
    close_comment_periods(today)
    publish_due_changes(today)
    for user_id in plan_acknowledgement_reminders(today):
        transaction.on_commit(lambda u=user_id: send_acknowledgement_reminder.delay(u))
    for policy_id in plan_review_reminders(today):
        transaction.on_commit(lambda p=policy_id: send_review_reminder.delay(p))
