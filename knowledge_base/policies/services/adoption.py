"""Adoption by a committee: a draft open for comment, then decided; adopted changes
published on their effective date."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record_on_commit
from portal.members.models import MemberLibrary

from ..models import (
    DraftComment,
    PolicyChange,
    PolicyPage,
)
from .publication import do_publish_revision


def check_open_change(user, page: PolicyPage, *, comment_until=None, effective_date=None):
    """The office puts the page's latest draft up for comment (or straight to committee)."""
    if not access.can_anywhere(user, "policies.manage_policies"):
        raise PermissionDenied
    revision = page.latest_revision
    if revision is None or (page.live_revision_id == revision.pk):
        raise ValidationError(_("There is no unpublished draft of this policy."))
    if PolicyChange.objects.filter(
        revision=revision, status__in=[PolicyChange.Status.COMMENT, PolicyChange.Status.PROPOSED]
    ).exists():
        raise ValidationError(_("This draft is already open."))
    return revision


def do_open_change(user, page, revision, *, comment_until=None, effective_date=None):
    status = PolicyChange.Status.COMMENT if comment_until else PolicyChange.Status.PROPOSED
    change = PolicyChange.objects.create(
        policy=page,
        revision=revision,
        status=status,
        comment_until=comment_until,
        effective_date=effective_date or revision.as_object().effective_date,
        created_by=user,
    )
    record_on_commit("policy.change_opened", actor=user, obj=change, data={"code": page.code})
    return change


def check_draft_comment(user, change: PolicyChange, library: MemberLibrary, text: str):
    if change.status != PolicyChange.Status.COMMENT:
        raise ValidationError(_("Comments on this draft are closed."))
    if change.comment_until and timezone.localdate() > change.comment_until:
        raise ValidationError(_("Comments on this draft are closed."))
    if not access.can(user, "policies.comment_on_drafts", library):
        raise PermissionDenied
    if not text.strip():
        raise ValidationError(_("Write a comment."))


def do_draft_comment(user, change, library, text) -> DraftComment:
    comment = DraftComment.objects.create(
        change=change, author=user, library=library, text=text.strip()
    )
    record_on_commit("policy.draft_commented", actor=user, library=library, obj=comment)
    return comment


def do_decide_change(change: PolicyChange, outcome: str, proposal=None, today=None):
    """Act on a committee's decision: publish (now or on the effective date) or reject."""
    today = today or timezone.localdate()
    with transaction.atomic():
        change = PolicyChange.objects.select_for_update().get(pk=change.pk)
        if change.status not in (PolicyChange.Status.COMMENT, PolicyChange.Status.PROPOSED):
            return change  # decided already: the signal may be delivered twice
        change.decided_at = timezone.now()
        if outcome != "passed":
            change.status = PolicyChange.Status.REJECTED
            change.save(update_fields=["status", "decided_at"])
            record_on_commit("policy.change_rejected", obj=change, data={"outcome": outcome})
            return change
        change.set_authority(proposal)
        change.status = PolicyChange.Status.SCHEDULED
        change.save()
        record_on_commit(
            "policy.change_adopted", obj=change, data={"authority": change.authority_label}
        )
        if change.effective_date is None or change.effective_date <= today:
            do_publish_revision(change.revision)
            change.refresh_from_db()
    return change


def publish_due_changes(today=None) -> list[int]:
    """Publish adopted changes whose effective date has come (periodic; idempotent)."""
    today = today or timezone.localdate()
    published = []
    due = PolicyChange.objects.filter(
        status=PolicyChange.Status.SCHEDULED, effective_date__lte=today
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            change = (
                PolicyChange.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=PolicyChange.Status.SCHEDULED)
                .select_related("revision")
                .first()
            )
            if change is None:
                continue
            do_publish_revision(change.revision)
            published.append(pk)
    return published


def close_comment_periods(today=None) -> int:
    today = today or timezone.localdate()
    return PolicyChange.objects.filter(
        status=PolicyChange.Status.COMMENT, comment_until__lt=today
    ).update(status=PolicyChange.Status.PROPOSED)
