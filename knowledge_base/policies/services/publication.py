"""Publication: each published revision snapshotted as the policy's next version, with its
authority, its next review and, for a material change, its acknowledgement campaign."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import record_on_commit
from portal.dates import add_months
from portal.home.panels import panel_changed
from portal.members.selectors import consortium_root
from portal.signals import policy_published

from ..blocks import body_lines
from ..choices import default_acknowledging_roles
from ..models import (
    PolicyChange,
    PolicyPage,
    PolicyVersion,
)
from .campaigns import do_start_campaign


def _office_authority(revision):
    """Who approved a revision published without a vote: the workflow's approver, if any."""
    from wagtail.models import TaskState

    state = (
        TaskState.objects.filter(revision=revision, status=TaskState.STATUS_APPROVED)
        .select_related("finished_by")
        .order_by("-finished_at")
        .first()
    )
    if state is not None and state.finished_by is not None:
        return state.finished_by, _("Approved by the office (%(person)s)") % {
            "person": state.finished_by.get_full_name() or state.finished_by.email
        }
    return None, _("Published by the office")


@transaction.atomic
def record_published_version(page: PolicyPage, revision) -> PolicyVersion | None:
    """Snapshot a published revision as the policy's next version (once per revision)."""
    if not page.live or revision is None:
        return None
    # Lock the page row so two publications never take the same number.
    PolicyPage.objects.select_for_update().filter(pk=page.pk).first()
    if PolicyVersion.objects.filter(revision=revision).exists():
        return None
    published = revision.as_object()
    last = PolicyVersion.objects.filter(policy=page).aggregate(n=Max("number"))["n"] or 0
    number = last + 1
    material = published.change_is_material or number == 1
    previous_base = (
        PolicyVersion.objects.filter(policy=page, number=last)
        .values_list("material_base", flat=True)
        .first()
    )
    change = (
        PolicyChange.objects.filter(revision=revision)
        .exclude(status=PolicyChange.Status.REJECTED)
        .first()
    )
    today = timezone.localdate()
    effective = (change.effective_date if change else None) or published.effective_date or today
    version = PolicyVersion(
        policy=page,
        number=number,
        revision=revision,
        code=published.code,
        title=published.title,
        body=published.body.get_prep_value(),
        text="\n".join(body_lines(published.body)),
        change_summary=published.change_summary,
        material=material,
        material_base=number if material else (previous_base or number),
        effective_date=effective,
    )
    if change is not None and change.authority_label:
        version.authority_type_id = change.authority_type_id
        version.authority_id = change.authority_id
        version.authority_label = change.authority_label
        version.authority_url = change.authority_url
        version.published_by = change.created_by
    else:
        approver, label = _office_authority(revision)
        version.authority_label = label
        version.published_by = approver or revision.user
    version.save()
    if change is not None:
        change.status = PolicyChange.Status.PUBLISHED
        change.version = version
        change.save(update_fields=["status", "version"])
    if page.next_review_date is None or page.next_review_date <= today:
        PolicyPage.objects.filter(pk=page.pk).update(
            next_review_date=add_months(effective, page.review_interval_months or 12)
        )
        panel_changed("policies")  # overdue reviews are on the dashboard
    campaign = None
    start = max(effective, today)
    due = published.acknowledge_by
    if due is None or due < start:
        # No date, or one left from an earlier version: the number of days decides (0: none).
        days = published.acknowledgement_days
        due = start + datetime.timedelta(days=days) if days else None
    if material and due is not None:
        campaign = do_start_campaign(
            version.published_by,
            version,
            roles=published.acknowledgement_roles or default_acknowledging_roles(),
            libraries=list(published.acknowledgement_libraries.all()),
            due_date=due,
            quiz_key=published.acknowledgement_quiz,
        )
    record_on_commit(
        "policy.published",
        actor=version.published_by,
        obj=version,
        data={
            "code": version.code,
            "version": number,
            "material": material,
            "authority": version.authority_label,
            "campaign": campaign.pk if campaign else None,
        },
    )
    transaction.on_commit(lambda: _announce(version.pk))
    return version


def _announce(version_id: int) -> None:
    version = PolicyVersion.objects.select_related("policy").get(pk=version_id)
    root = consortium_root()
    policy_published.send_robust(
        sender=root, policy=version.policy, version=version, material=version.material
    )


def do_publish_revision(revision, user=None):
    """Publish ``revision`` through Wagtail; the version is recorded by the signal receiver."""
    revision.publish(user=user, skip_permission_checks=user is None)
    return PolicyVersion.objects.filter(revision=revision).first()
