"""Writes for shared policies, as check_* (validate, authorise, lock) then do_* (act).

Publication has one path: Wagtail publishes a revision (office approval workflow, a direct
publish, or :func:`do_publish_revision` after a passed proposal) and the ``page_published``
receiver calls :func:`record_published_version`, which snapshots the version, opens the
acknowledgement campaign for a material change and sends ``policy_published``.
"""

from __future__ import annotations

import datetime
import logging

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record_on_commit
from portal.background import enqueue
from portal.dates import add_months
from portal.members.models import MemberLibrary, Membership
from portal.members.switches import enabled_plugins_by_library
from portal.signals import policy_published

from .blocks import body_lines
from .choices import default_acknowledging_roles
from .models import (
    Acknowledgement,
    AcknowledgementCampaign,
    DraftComment,
    LocalProcedure,
    PolicyChange,
    PolicyLibraryPage,
    PolicyPage,
    PolicyVersion,
    ReminderSent,
)
from .selectors import (
    acknowledged_numbers,
    active_campaigns,
    campaign_reaches,
    current_version,
    outstanding_for,
    reading_quiz,
    reviews_due_soon,
)

logger = logging.getLogger(__name__)

OFFICE_WORKFLOW = "Policy office approval"


# --- Setting up the library ------------------------------------------------------------


def setup_policy_library(parent, title: str | None = None, slug: str = "policy-library"):
    """Create the policy library page with the office's page permissions and approval workflow.

    Idempotent: returns the existing library when there is one.
    """
    from wagtail.models import GroupApprovalTask, Workflow, WorkflowPage, WorkflowTask

    from portal.members.office import office_group

    library = PolicyLibraryPage.objects.first()
    if library is None:
        library = PolicyLibraryPage(title=title or _("Policy library"), slug=slug)
        parent.add_child(instance=library)
        library.save_revision().publish()
    group = office_group()
    for codename in ("add_page", "change_page", "publish_page", "lock_page", "unlock_page"):
        _grant_page_permission(group, library, codename)
    workflow = Workflow.objects.filter(name=OFFICE_WORKFLOW).first()
    if workflow is None:
        workflow = Workflow.objects.create(name=OFFICE_WORKFLOW, active=True)
        task = GroupApprovalTask.objects.create(name=_("Office approval"), active=True)
        task.groups.set([group])
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    WorkflowPage.objects.get_or_create(page=library, defaults={"workflow": workflow})
    return library


def _grant_page_permission(group: Group, page, codename: str) -> None:
    from django.contrib.auth.models import Permission
    from wagtail.models import GroupPagePermission

    permission = Permission.objects.get(content_type__app_label="wagtailcore", codename=codename)
    GroupPagePermission.objects.get_or_create(group=group, page=page, permission=permission)


# --- Publication ----------------------------------------------------------------------


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


def check_start_campaign(user, version: PolicyVersion, *, roles, libraries, due_date):
    """The office asks ``roles`` at ``libraries`` (none: every library) to acknowledge."""
    if not access.can_anywhere(user, "policies.manage_policies"):
        raise PermissionDenied
    allowed = set(default_acknowledging_roles())
    if not roles or not set(roles) <= allowed:
        raise ValidationError(_("Choose the roles that acknowledge policies."))
    if due_date < timezone.localdate():
        raise ValidationError(_("The due date has passed."))
    latest = PolicyVersion.objects.filter(policy_id=version.policy_id).aggregate(n=Max("number"))
    if version.number != latest["n"]:
        raise ValidationError(_("Only the current version can be acknowledged."))


def do_start_campaign(
    user, version, *, roles, libraries=(), due_date, quiz_key: str = ""
) -> AcknowledgementCampaign:
    """Open an acknowledgement campaign for ``version``; audited."""
    campaign = AcknowledgementCampaign.objects.create(
        policy_id=version.policy_id,
        version=version,
        roles=list(roles),
        due_date=due_date,
        quiz_key=quiz_key or "",
        created_by=user,
    )
    if libraries:
        campaign.libraries.set(libraries)
    record_on_commit(
        "policy.campaign_started",
        actor=user,
        obj=campaign,
        data={
            "code": version.code,
            "version": version.number,
            "roles": list(roles),
            "libraries": [lib.pk for lib in libraries],
            "due": due_date.isoformat(),
            "quiz": quiz_key or "",
        },
    )
    return campaign


def _announce(version_id: int) -> None:
    version = PolicyVersion.objects.select_related("policy").get(pk=version_id)
    root = MemberLibrary.get_first_root_node()
    policy_published.send_robust(
        sender=root, policy=version.policy, version=version, material=version.material
    )


def do_publish_revision(revision, user=None):
    """Publish ``revision`` through Wagtail; the version is recorded by the signal receiver."""
    revision.publish(user=user, skip_permission_checks=user is None)
    return PolicyVersion.objects.filter(revision=revision).first()


# --- Adoption by a committee ----------------------------------------------------------


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


# --- Acknowledgement ------------------------------------------------------------------


class QuizRequired(ValidationError):
    """This person acknowledges by passing the quiz, not with a click."""


def acknowledging_library(user) -> MemberLibrary:
    """The first of the person's libraries where they may acknowledge policies."""
    libraries = [
        m.library
        for m in access.memberships_of(user)
        if access.can(user, "policies.acknowledge_policy", m.library)
    ]
    if not libraries:
        raise PermissionDenied
    return libraries[0]


def required_quiz(user, page: PolicyPage, library: MemberLibrary):
    """The quiz this person must pass to acknowledge ``page``, or None (a click will do):
    their open campaign names a quiz and a plugin enabled for their library offers it."""
    outstanding = outstanding_for(user, [page.pk])
    if not outstanding or not outstanding[0].campaign.quiz_key:
        return None
    return reading_quiz(outstanding[0].campaign.quiz_key, library, user)


def _current(page: PolicyPage, number: int | None) -> PolicyVersion:
    version = current_version(page)
    if version is None:
        raise ValidationError(_("This policy has no published version yet."))
    if number is not None and number != version.number:
        # What they read is no longer current: they read (and answer for) the new one first.
        raise ValidationError(_("A new version was published while you were reading."))
    return version


def check_acknowledge(
    user, page: PolicyPage, number: int | None = None
) -> tuple[PolicyVersion, MemberLibrary]:
    """The current version and the library the person acknowledges for, by a click.

    Refused with :class:`QuizRequired` where the person must pass a quiz instead.
    """
    version = _current(page, number)
    library = acknowledging_library(user)
    if required_quiz(user, page, library) is not None:
        raise QuizRequired(_("Acknowledge this policy by passing its quiz."))
    return version, library


def check_acknowledge_by_quiz(user, page: PolicyPage, number: int | None, answers: dict):
    """Grade the person's answers; returns (version, library, score, passed).

    The version is the current one, and only if it is the one they answered for.
    """
    version = _current(page, number)
    library = acknowledging_library(user)
    quiz = required_quiz(user, page, library)
    if quiz is None:
        raise ValidationError(_("No quiz is asked of you for this policy."))
    score, passed = quiz.grade(user, answers)
    return version, library, score, passed


def do_acknowledge(
    user,
    version: PolicyVersion,
    library: MemberLibrary,
    *,
    method: str = Acknowledgement.Method.CLICK,
    score=None,
) -> Acknowledgement:
    """Record that ``user`` read ``version``; once per person and version, audited."""
    try:
        with transaction.atomic():
            ack = Acknowledgement.objects.create(
                user=user,
                policy_id=version.policy_id,
                version=version,
                library=library,
                method=method,
                score=score,
            )
    except IntegrityError:
        return Acknowledgement.objects.get(user=user, version=version)
    data = {"code": version.code, "version": version.number}
    if method != Acknowledgement.Method.CLICK:
        data.update(method=str(method), score=str(score))
    record_on_commit("policy.acknowledged", actor=user, library=library, obj=ack, data=data)
    return ack


# --- Local procedures -----------------------------------------------------------------


def check_local_procedure(user, page: PolicyPage, library: MemberLibrary, text: str):
    if not access.can(user, "policies.add_local_procedure", library):
        raise PermissionDenied
    if not page.live:
        raise ValidationError(_("This policy is not published."))


def do_save_local_procedure(user, page, library, text: str) -> LocalProcedure | None:
    """Create, update or (with empty text) remove the library's procedure for a policy."""
    if not text.strip():
        LocalProcedure.objects.filter(policy=page, library=library).delete()
        record_on_commit(
            "policy.local_procedure_removed", actor=user, library=library, data={"code": page.code}
        )
        return None
    procedure, _created = LocalProcedure.objects.update_or_create(
        policy=page, library=library, defaults={"text": text, "updated_by": user}
    )
    record_on_commit(
        "policy.local_procedure_saved",
        actor=user,
        library=library,
        obj=procedure,
        data={"code": page.code},
    )
    return procedure


# --- Review cycle ---------------------------------------------------------------------


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
    record_on_commit(
        "policy.reviewed", actor=user, obj=page, data={"code": page.code, "next": next_date}
    )
    return next_date


# --- Reminders ------------------------------------------------------------------------

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


# -- reminders the office (or a director) sends from the acknowledgement report -------------


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
