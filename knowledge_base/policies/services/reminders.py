"""Reminders: of acknowledgements due and of reviews coming (periodic, each claimed once),
and those the office or a director sends from the acknowledgement report."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.audit.services import record_on_commit
from portal.background import enqueue
from portal.members.models import Membership
from portal.members.switches import enabled_plugins_by_library

from ..models import (
    ReminderSent,
)
from ..selectors import (
    acknowledged_numbers,
    active_campaigns,
    campaign_reaches,
    reviews_due_soon,
)

REMIND_WITHIN_DAYS = 7  # start reminding a week before the due date


REMIND_EVERY_DAYS = 3  # and then no more than once every three days per person


REVIEW_NOTICE_DAYS = 30


def _claim(kind: str, key: str) -> bool:
    """True for the one caller that claims this reminder; later runs get False."""
    try:
        with transaction.atomic():
            ReminderSent.objects.create(kind=kind, key=key)
    except IntegrityError:
        return False
    return True


def plan_acknowledgement_reminders(today=None) -> list[int]:
    """Claim one grouped reminder per person with an acknowledgement due soon; returns ids.

    Idempotent: a person is claimed at most once per ``REMIND_EVERY_DAYS`` window, so the
    five-minute periodic signal can call this as often as it likes.
    """
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=REMIND_WITHIN_DAYS)
    campaigns = [c for c in active_campaigns() if today <= c.due_date <= horizon]
    if not campaigns:
        return []
    roles = {role for c in campaigns for role in c.roles}
    memberships = list(
        Membership.objects.filter(role__in=roles, user__is_active=True).select_related("library")
    )
    enabled = enabled_plugins_by_library({m.library for m in memberships})
    wanted: dict[int, set[int]] = {}
    for m in memberships:
        if "policies" not in enabled.get(m.library_id, ()):
            continue
        for c in campaigns:
            if campaign_reaches(c, m.library, m.role):
                wanted.setdefault(m.user_id, set()).add(c.pk)
    if not wanted:
        return []
    by_pk = {c.pk: c for c in campaigns}
    done = acknowledged_numbers(list(wanted), [c.policy_id for c in campaigns])
    window = today.toordinal() // REMIND_EVERY_DAYS
    claimed = []
    for user_id, campaign_ids in sorted(wanted.items()):
        missing = [
            pk
            for pk in campaign_ids
            if (done.get((user_id, by_pk[pk].policy_id), (0, None))[0] or 0)
            < by_pk[pk].version.number
        ]
        if missing and _claim("acknowledge", f"{user_id}:{window}"):
            claimed.append(user_id)
    return claimed


def plan_review_reminders(today=None) -> list[int]:
    """Claim one reminder per policy and review date for owners; returns policy ids."""
    claimed = []
    for page in reviews_due_soon(REVIEW_NOTICE_DAYS, today):
        if _claim("review", f"{page.pk}:{page.next_review_date.isoformat()}"):
            claimed.append(page.pk)
    return claimed


def do_remind_now(user, missing_user_ids: list[int]) -> tuple[int, int]:
    """Queue one reminder for each person who still has to acknowledge, at most one a day
    each (whoever presses the button); returns (queued, already reminded today)."""
    today = timezone.localdate().isoformat()
    queued, skipped = [], 0
    for user_id in sorted(set(missing_user_ids)):
        if _claim("acknowledge-now", f"{user_id}:{today}"):
            queued.append(user_id)
        else:
            skipped += 1
    for user_id in queued:
        transaction.on_commit(
            lambda user_id=user_id: enqueue("policies.send_acknowledgement_reminder", user_id)
        )
    if queued:
        record_on_commit("policies.reminders_sent", actor=user, data={"people": len(queued)})
    return len(queued), skipped
