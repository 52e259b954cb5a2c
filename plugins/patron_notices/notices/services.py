"""Writes for patron notices: approval, library participation, sending and its controls.

Each write is a ``check_*`` (access and state, under a row lock) and a ``do_*`` (the change,
side effects on commit), as elsewhere in the portal.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.admin_door import AdminDoor
from portal.audit.services import record_on_commit
from portal.home.panels import panel_changed
from portal.members.models import MemberLibrary

from ..directory.models import Contact, Patron, PreferenceChange
from ..rules import (  # noqa: F401 - the notice's rules, asked of the services too
    DRAFT,
    SEND,
    TAKE_PART,
    author_libraries,
    consortium,
    may_approve,
    may_draft,
    may_edit,
    may_send,
    may_view,
)
from . import leases, planning, queue, selectors
from .models import Delivery, LibraryParticipation, Notice, NoticeApprovalTask

State = Notice.State


DRAFTERS_GROUP = "Patron notice drafters"


# Communications people draft notices in the admin; the admin's door opens with the role.
DRAFTERS = AdminDoor(DRAFTERS_GROUP, (DRAFT,))
sync_drafters_group = DRAFTERS.sync
sync_all_drafters = DRAFTERS.rebuild


def _locked(notice: Notice) -> Notice:
    return Notice.objects.select_for_update().get(pk=notice.pk)


# -- approval and schedule -----------------------------------------------------------------------


def check_approve_notice(user, notice: Notice) -> Notice:
    """Server-side guard of the workflow's approval (see ``NoticeApprovalTask``)."""
    if not may_send(user):
        raise PermissionDenied
    notice = _locked(notice)
    if notice.state != State.DRAFT:
        raise ValidationError(_("Only a draft can be approved."))
    if notice.author_id == user.pk:
        raise ValidationError(_("A second person approves a notice, not its author."))
    return notice


def do_approve_notice(user, notice: Notice) -> Notice:
    notice.state, notice.approved_by, notice.approved_at = State.APPROVED, user, timezone.now()
    notice.save(update_fields=["state", "approved_by", "approved_at"])
    record_on_commit("patron_notices.notice_approved", actor=user, obj=notice)
    return notice


APPROVAL_WORKFLOW = "Patron notice approval"


def ensure_approval_workflow() -> None:
    """The Wagtail workflow every notice goes through, with its one task. Idempotent."""
    from django.contrib.contenttypes.models import ContentType
    from wagtail.models import Workflow, WorkflowContentType, WorkflowTask

    workflow, _created = Workflow.objects.get_or_create(name=str(APPROVAL_WORKFLOW))
    task = NoticeApprovalTask.objects.filter(name=str(APPROVAL_WORKFLOW)).first()
    if task is None:
        task = NoticeApprovalTask.objects.create(name=str(APPROVAL_WORKFLOW))
    WorkflowTask.objects.get_or_create(workflow=workflow, task=task, defaults={"sort_order": 0})
    WorkflowContentType.objects.update_or_create(
        content_type=ContentType.objects.get_for_model(Notice), defaults={"workflow": workflow}
    )


def on_workflow_approved(sender, instance, user=None, **kwargs):
    """The workflow's last step approved (and published) the notice: it may be scheduled."""
    notice = instance.content_object
    if not isinstance(notice, Notice):
        return
    with transaction.atomic():
        locked = check_approve_notice(user, notice)
        do_approve_notice(user, locked)


def check_schedule_notice(user, notice: Notice, send_at) -> Notice:
    if not may_send(user):
        raise PermissionDenied
    notice = _locked(notice)
    if notice.state not in (State.APPROVED, State.SCHEDULED):
        raise ValidationError(_("Approve the notice before scheduling it."))
    return notice


def do_schedule_notice(user, notice: Notice, send_at=None) -> Notice:
    """Schedule for ``send_at`` (now when empty); a due notice starts on commit."""
    notice.state, notice.send_at = State.SCHEDULED, send_at or timezone.now()
    notice.save(update_fields=["state", "send_at"])
    record_on_commit(
        "patron_notices.notice_scheduled",
        actor=user,
        obj=notice,
        data={"send_at": notice.send_at.isoformat()},
    )
    if notice.send_at <= timezone.now():
        notice_id = notice.pk
        transaction.on_commit(lambda: queue.enqueue(queue.START, notice_id))
    return notice


# -- member libraries take part ------------------------------------------------------------------


class NotInAudience(PermissionDenied):
    """The notice is not addressed to the library's patrons: nothing to take part in."""


def check_participate(user, notice: Notice, library: MemberLibrary) -> Notice:
    if not access.can(user, TAKE_PART, library):
        raise PermissionDenied
    notice = _locked(notice)
    if not selectors.reaches(notice, library):
        raise NotInAudience
    if notice.state == State.DRAFT:
        # Libraries decide on what the office has approved, not on a draft still changing.
        raise ValidationError(_("This notice is not approved yet: it is still a draft."))
    if notice.state not in (State.APPROVED, State.SCHEDULED):
        raise ValidationError(_("This notice is already being sent."))
    if notice.participation_deadline and notice.participation_deadline < timezone.now():
        raise ValidationError(_("The deadline to take part has passed."))
    return notice


def do_participate(
    user, notice: Notice, library: MemberLibrary, decision: str, local_paragraph: str = ""
) -> LibraryParticipation:
    participation, _created = LibraryParticipation.objects.update_or_create(
        notice=notice,
        library=library,
        defaults={
            "decision": decision,
            "local_paragraph": local_paragraph.strip(),
            "decided_by": user,
            "decided_at": timezone.now(),
        },
    )
    record_on_commit(
        "patron_notices.library_took_part",
        actor=user,
        library=library,
        obj=notice,
        data={"decision": decision, "local_paragraph": bool(local_paragraph.strip())},
    )
    return participation


# -- sending -------------------------------------------------------------------------------------


def do_start_sending(notice_id: int) -> int:
    """Plan a due notice's recipients and queue its batches; a second call only re-queues."""
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None:
            return 0
        if notice.state == State.SCHEDULED:
            planning.do_plan(notice)
            notice.state, notice.started_at = State.SENDING, timezone.now()
            notice.save(update_fields=["state", "started_at"])
            record_on_commit(
                "patron_notices.notice_sending",
                obj=notice,
                data={"recipients": notice.planned_count},
            )
            if notice.include_print:
                transaction.on_commit(lambda: queue.enqueue(queue.PLAN_PRINT_RUNS, notice_id))
        if notice.state != State.SENDING:
            return 0
        transaction.on_commit(lambda: queue.batches(notice_id))
        return notice.planned_count


def check_control(user, notice: Notice, action: str) -> Notice:
    if not may_send(user):
        raise PermissionDenied
    notice = _locked(notice)
    allowed = {
        "pause": (State.SENDING,),
        "resume": (State.PAUSED,),
        "cancel": (State.SCHEDULED, State.SENDING, State.PAUSED),
        "retry_failed": (State.SENDING, State.PAUSED, State.DONE),
    }[action]
    if notice.state not in allowed:
        raise ValidationError(_("The notice cannot do that now."))
    return notice


def do_pause(user, notice: Notice) -> Notice:
    # Workers read the state between messages and hand their rows back.
    Notice.objects.filter(pk=notice.pk).update(state=State.PAUSED)
    notice.state = State.PAUSED
    record_on_commit("patron_notices.notice_paused", actor=user, obj=notice)
    return notice


def do_resume(user, notice: Notice) -> Notice:
    Notice.objects.filter(pk=notice.pk).update(state=State.SENDING, generation=F("generation") + 1)
    notice.state = State.SENDING
    record_on_commit("patron_notices.notice_resumed", actor=user, obj=notice)
    notice_id = notice.pk
    transaction.on_commit(lambda: queue.batches(notice_id))
    return notice


def do_cancel(user, notice: Notice) -> Notice:
    Notice.objects.filter(pk=notice.pk).update(state=State.CANCELLED, finished_at=timezone.now())
    panel_changed("patron_notices")  # a scheduled notice no longer waits for decisions
    notice.state = State.CANCELLED
    # Rows in flight are skipped by their worker at its next check.
    Delivery.objects.filter(notice=notice, state=Delivery.State.QUEUED).update(
        state=Delivery.State.SKIPPED, last_error="cancelled"
    )
    record_on_commit("patron_notices.notice_cancelled", actor=user, obj=notice)
    return notice


def do_retry_failed(user, notice: Notice) -> int:
    """Queue the failed rows again, once the cause (a wrong server, a full quota) is fixed."""
    count = Delivery.objects.filter(notice=notice, state=Delivery.State.FAILED).update(
        state=Delivery.State.QUEUED, attempts=0, due_at=None, last_error=""
    )
    if count:
        Notice.objects.filter(pk=notice.pk).update(
            state=State.SENDING, finished_at=None, generation=F("generation") + 1
        )
        notice.state = State.SENDING
        record_on_commit(
            "patron_notices.failed_retried", actor=user, obj=notice, data={"rows": count}
        )
        notice_id = notice.pk
        transaction.on_commit(lambda: queue.batches(notice_id))
    return count


def do_reap(now=None) -> int:
    """The periodic repair: dead workers' rows back to the queue, stalled notices going,
    due scheduled notices started. Idempotent; returns the rows re-queued."""
    now = now or timezone.now()
    requeued = leases.reap(now)
    for notice_id in Notice.objects.filter(state=State.SENDING).values_list("pk", flat=True):
        if not leases.finish_if_done(notice_id):
            due = Delivery.objects.filter(notice_id=notice_id, state=Delivery.State.QUEUED).exclude(
                due_at__gt=now
            )
            if due.exists():
                queue.batches(notice_id)
    for notice_id in Notice.objects.filter(state=State.SCHEDULED, send_at__lte=now).values_list(
        "pk", flat=True
    ):
        queue.enqueue(queue.START, notice_id)
    return requeued


# -- unsubscribe ---------------------------------------------------------------------------------

SCOPES = ("library", "category", "all")


def do_unsubscribe(delivery: Delivery, scope: str) -> str:
    """Unsubscribe the delivery's contact from its library's notices, its category, or all."""

    if scope not in SCOPES:
        scope = "library"
    kind = planning.CATEGORY_KIND[delivery.notice.category]
    if scope == "category" and kind is None:
        scope = "library"  # emergencies have no category preference
    now = timezone.now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=delivery.contact_id)
        changes = []
        if scope == "all" and contact.unsubscribed_all_at is None:
            contact.unsubscribed_all_at = now
            contact.save(update_fields=["unsubscribed_all_at"])
            changes.append(("unsubscribed_all", "", now.isoformat(), None))
        elif scope == "category" and kind in contact.notice_kinds:
            old = ",".join(sorted(contact.notice_kinds))
            contact.notice_kinds = [k for k in contact.notice_kinds if k != kind]
            contact.save(update_fields=["notice_kinds"])
            changes.append(("notice_kinds", old, ",".join(sorted(contact.notice_kinds)), None))
        elif scope == "library":
            for patron in Patron.objects.filter(
                contact=contact, library_id=delivery.library_id, suppression=""
            ):
                patron.suppression, patron.suppressed_at = Patron.Suppression.UNSUBSCRIBED, now
                patron.save(update_fields=["suppression", "suppressed_at"])
                changes.append(("unsubscribed", "", str(delivery.library_id), patron))
        PreferenceChange.objects.bulk_create(
            PreferenceChange(
                contact=contact,
                patron=patron,
                field=field,
                old_value=old[:200],
                new_value=new[:200],
                changed_at=now,
            )
            for field, old, new, patron in changes
        )
    return scope


# -- preview and test send -----------------------------------------------------------------------

MAX_TEST_ADDRESSES = 10


def check_test_send(user, notice: Notice, library: MemberLibrary, addresses: list[str]) -> Notice:
    """Whoever may see the notice may send a test, branded as one of the libraries whose
    side they see (any, for the office), to at most ten chosen addresses."""
    if not may_view(user, notice):
        raise PermissionDenied
    seen = selectors.notice_libraries(user)
    if seen is not None and library.pk not in seen:
        raise PermissionDenied
    if not addresses or len(addresses) > MAX_TEST_ADDRESSES:
        raise ValidationError(
            _("Give between one and %(n)d addresses.") % {"n": MAX_TEST_ADDRESSES}
        )
    return notice


def do_test_send(user, notice: Notice, library: MemberLibrary, language: str, addresses) -> None:
    """Queue a test copy, branded as ``library`` in ``language``, for each address."""
    record_on_commit(
        "patron_notices.test_sent",
        actor=user,
        library=library,
        obj=notice,
        data={"addresses": len(addresses), "language": language},
    )
    args = (notice.pk, library.pk, language, list(addresses))
    transaction.on_commit(lambda: queue.enqueue(queue.TEST_COPIES, *args))
