"""Celery tasks: they take ids and are queued on commit."""

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal import mail

from .models import ReminderSent


@shared_task(name="training.send_reminders")
def send_reminders(user_id: int, reminder_ids: list[int]) -> int:
    """One email to one person listing every course due soon or overdue."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return 0
    reminders = list(
        ReminderSent.objects.filter(pk__in=reminder_ids, enrolment__user_id=user_id)
        .select_related("enrolment__course")
        .order_by("enrolment__due", "enrolment__course__title")
    )
    if not reminders:
        return 0
    base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    context = {
        "user": user,
        "overdue": [r.enrolment for r in reminders if r.kind == ReminderSent.Kind.OVERDUE],
        "due_soon": [r.enrolment for r in reminders if r.kind == ReminderSent.Kind.DUE_SOON],
        "today": timezone.localdate(),
        "base_url": base,
        "consortium_name": settings.WAGTAIL_SITE_NAME,
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Training reminder: %(count)s course(s) to finish") % {"count": len(reminders)}
        mail.send(user.email, "training/email/reminder.txt", context, subject=subject)
    return len(reminders)
