"""Receivers: urgent emails on publish, digests from the periodic fan-out."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver
from wagtail.signals import page_published

from portal.signals import periodic

from .models import AnnouncementPage
from .tasks import due_user_ids, send_digest, send_urgent_announcement


@receiver(page_published, sender=AnnouncementPage, dispatch_uid="announcements.urgent")
def announcement_published(sender, instance, **kwargs):
    if instance.is_urgent:
        page_id = instance.pk
        transaction.on_commit(lambda: send_urgent_announcement.delay(page_id))


@receiver(periodic, dispatch_uid="announcements.digests")
def queue_digests(sender, now, **kwargs):
    # Idempotent: send_digest checks, under a row lock, that the period has elapsed.
    for user_id in due_user_ids(now):
        transaction.on_commit(lambda user_id=user_id: send_digest.delay(user_id))
