"""The review cycle: a policy reviewed without changes moves its next review on."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from portal import access
from portal.audit.services import record_on_commit
from portal.dates import add_months
from portal.home.panels import panel_changed

from ..models import (
    PolicyPage,
)


def check_mark_reviewed(user, page: PolicyPage):
    if page.policy_owner_id != user.pk and not access.can_anywhere(
        user, "policies.manage_policies"
    ):
        raise PermissionDenied


def do_mark_reviewed(user, page: PolicyPage, today=None) -> datetime.date:
    """Reviewed without changes: the next review moves one interval on."""
    today = today or timezone.localdate()
    next_date = add_months(today, page.review_interval_months or 12)
    PolicyPage.objects.filter(pk=page.pk).update(next_review_date=next_date)
    panel_changed("policies")  # overdue reviews are on the dashboard
    record_on_commit(
        "policy.reviewed", actor=user, obj=page, data={"code": page.code, "next": next_date}
    )
    return next_date
