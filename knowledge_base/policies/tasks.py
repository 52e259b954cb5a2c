"""Celery tasks: reminders by email. They take ids and re-read the state when they run."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation

from portal import mail

from .models import PolicyPage
from .selectors import outstanding_for


def _send(template: str, context: dict, to: str) -> None:
    mail.send(to, f"{template}.txt", context, subject_template=f"{template}_subject.txt")


@shared_task(name="policies.send_acknowledgement_reminder")
def send_acknowledgement_reminder(user_id: int) -> int:
    """One email listing every policy the person still has to acknowledge."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return 0
    outstanding = outstanding_for(user)
    if not outstanding:
        return 0  # acknowledged since the reminder was planned
    with translation.override(settings.LANGUAGE_CODE):
        _send(
            "policies/email/acknowledge",
            {"user": user, "outstanding": outstanding, "base_url": settings.WAGTAILADMIN_BASE_URL},
            user.email,
        )
    return len(outstanding)


@shared_task(name="policies.send_review_reminder")
def send_review_reminder(policy_id: int) -> int:
    page = PolicyPage.objects.select_related("policy_owner").filter(pk=policy_id).first()
    if page is None or page.policy_owner is None or not page.policy_owner.is_active:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        _send(
            "policies/email/review",
            {"page": page, "base_url": settings.WAGTAILADMIN_BASE_URL},
            page.policy_owner.email,
        )
    return 1
