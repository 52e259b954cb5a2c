"""Reminders of courses due soon or overdue, each kind once per enrolment (periodic)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from portal.background import enqueue

from ..models import Enrolment, ReminderSent

# Reminders go this long before the due date, and once more after it has passed.
REMIND_BEFORE = timedelta(days=7)


def do_plan_reminders(today: date | None = None) -> dict[int, list[int]]:
    """Remember a reminder for every unfinished enrolment due soon or overdue that has not
    had that kind yet, and queue one email per person on commit. ``{user_id: [ids]}``."""
    today = today or timezone.localdate()
    planned: dict[int, list[int]] = {}
    with transaction.atomic():
        candidates = (
            Enrolment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(current=True, due__isnull=False, due__lte=today + REMIND_BEFORE)
            .exclude(state=Enrolment.State.COMPLETED)
            .filter(user__is_active=True)
            .values_list("pk", "user_id", "due")
        )
        rows = []
        for pk, user_id, due in candidates:
            kind = ReminderSent.Kind.OVERDUE if due < today else ReminderSent.Kind.DUE_SOON
            rows.append((pk, user_id, kind))
        sent = set(
            ReminderSent.objects.filter(enrolment_id__in=[r[0] for r in rows]).values_list(
                "enrolment_id", "kind"
            )
        )
        fresh = [r for r in rows if (r[0], r[2]) not in sent]
        made = ReminderSent.objects.bulk_create(
            [ReminderSent(enrolment_id=pk, kind=kind) for pk, _user, kind in fresh],
            batch_size=1000,
        )
        for reminder, (_pk, user_id, _kind) in zip(made, fresh, strict=True):
            planned.setdefault(user_id, []).append(reminder.pk)
        for user_id, ids in planned.items():
            transaction.on_commit(
                lambda user_id=user_id, ids=ids: enqueue("training.send_reminders", user_id, ids)
            )
    return planned
