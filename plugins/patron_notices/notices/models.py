"""The notice engine's data: notices and their approval task, the libraries' participation
and senders, the deliveries (one per recipient) and the print runs of letters.

Django finds these through ``plugins.patron_notices.models`` (one app, one set of
migrations); code inside the plugin imports them from here. The directory's contacts and
patrons are named by their model label, so these models import nothing of the directory."""

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField
from wagtail.models import DraftStateMixin, RevisionMixin, Task, WorkflowMixin

from .. import rules
from ..blocks import LanguageVersionBlock
from ..conf import conf


class Notice(WorkflowMixin, DraftStateMixin, RevisionMixin, models.Model):
    """A message from the consortium to the patrons of its members, branded per library.

    Approval is a Wagtail workflow (draft -> submitted -> approved by a second person, see
    :class:`NoticeApprovalTask`); approving publishes the draft and makes the notice
    ``approved``. ``state`` then carries it through scheduling and sending.
    """

    class Category(models.TextChoices):
        SERVICE = "service", _("Service notice")
        EMERGENCY = "emergency", _("Emergency notice")
        GENERAL = "general", _("General news")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        APPROVED = "approved", _("Approved")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Done")

    title = models.CharField(_("title"), max_length=200, help_text=_("For the office only."))
    category = models.CharField(
        _("category"), max_length=16, choices=Category.choices, default=Category.GENERAL
    )
    versions = StreamField(
        [("version", LanguageVersionBlock())],
        verbose_name=_("subject and body per language"),
        min_num=1,
        help_text=_("The first version is sent to patrons whose language has none."),
    )
    # The audience. No library chosen means every member library; a system takes its branches.
    libraries = models.ManyToManyField(
        "members.MemberLibrary", verbose_name=_("libraries"), blank=True, related_name="+"
    )
    branches = models.ManyToManyField(
        "members.MemberLibrary",
        verbose_name=_("home branches"),
        blank=True,
        related_name="+",
        help_text=_("Only patrons whose home branch is one of these."),
    )
    patron_categories = models.JSONField(_("patron categories"), default=list, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    include_print = models.BooleanField(
        _("print letters for patrons without an email address"), default=False
    )

    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    participation_deadline = models.DateTimeField(
        _("libraries may take part until"), null=True, blank=True
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    planned_at = models.DateTimeField(_("recipients planned at"), null=True, blank=True)
    planned_count = models.IntegerField(_("recipients planned"), default=0)
    started_at = models.DateTimeField(_("sending started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("sending finished"), null=True, blank=True)
    # Raised by resume and retry: workers render again with the libraries' senders and
    # branding as they are now (they keep rendered messages per notice and generation).
    generation = models.PositiveIntegerField(default=0, editable=False)
    # Sending limits; empty means the sender's own limits only.
    hourly_limit = models.PositiveIntegerField(_("messages per hour"), null=True, blank=True)
    domain_limit = models.PositiveIntegerField(
        _("messages per minute to one domain"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("patron notice")
        verbose_name_plural = _("patron notices")
        constraints = [
            # A second pair of eyes: the author never approves their own notice.
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | models.Q(author__isnull=True)
                | ~models.Q(approved_by=models.F("author")),
                name="notice_approved_by_another",
            )
        ]

    def __str__(self):
        return self.title

    def version_for(self, language: str) -> dict:
        """The language version for ``language``, else the first one."""
        versions = [v.value for v in self.versions]
        for version in versions:
            if version["language"] == language:
                return version
        return versions[0]

    @property
    def version_languages(self) -> list[str]:
        return [v.value["language"] for v in self.versions]


class NoticeApprovalTask(Task):
    """The workflow step of a patron notice: someone who may send notices approves it, and
    never its author (checked here on every action and by a database constraint)."""

    class Meta:
        verbose_name = _("second-person approval of a patron notice")
        verbose_name_plural = _("second-person approvals of patron notices")

    def user_can_approve(self, obj, user) -> bool:
        return rules.may_approve(user, obj)

    def user_can_access_editor(self, obj, user):
        return self.user_can_approve(obj, user)

    def locked_for_user(self, obj, user):
        # While it waits for approval the author does not change what is being approved.
        return not self.user_can_approve(obj, user)

    def get_actions(self, obj, user):
        if not self.user_can_approve(obj, user):
            return []
        return [
            ("reject", _("Request changes"), True),
            ("approve", _("Approve"), False),
            ("approve", _("Approve with comment"), True),
        ]

    def on_action(self, task_state, user, action_name, **kwargs):
        from django.core.exceptions import PermissionDenied

        obj = task_state.workflow_state.content_object
        if not self.user_can_approve(obj, user):
            raise PermissionDenied
        return super().on_action(task_state, user, action_name, **kwargs)

    def get_task_states_user_can_moderate(self, user, **kwargs):
        from wagtail.models import TaskState

        if not rules.may_send(user):
            return TaskState.objects.none()
        return TaskState.objects.filter(
            status=TaskState.STATUS_IN_PROGRESS, task=self.task_ptr
        ).exclude(workflow_state__requested_by=user)

    @classmethod
    def get_description(cls):
        return _("The consortium office approves; the author never approves their own notice.")


class LibraryParticipation(models.Model):
    """What a member library did with a notice before the deadline."""

    class Decision(models.TextChoices):
        PENDING = "pending", _("Not yet decided")
        APPROVED = "approved", _("Approved for our patrons")
        OPTED_OUT = "opted_out", _("Our patrons opt out of this one")

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="participations")
    library = models.ForeignKey("members.MemberLibrary", on_delete=models.CASCADE, related_name="+")
    decision = models.CharField(
        _("decision"), max_length=16, choices=Decision.choices, default=Decision.PENDING
    )
    local_paragraph = models.TextField(
        _("local paragraph"), blank=True, help_text=_("Added below the notice, e.g. our hours.")
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("library participation")
        constraints = [
            models.UniqueConstraint(fields=["notice", "library"], name="one_participation")
        ]

    def __str__(self):
        return f"{self.library_id}: {self.decision}"


class LibrarySender(models.Model):
    """How a library's notices leave: its name, reply-to, and optionally its own mail account.

    A system's sender serves its branches unless a branch has its own. Keeping each
    member's mail on its own account keeps one member's reputation apart from the others.
    """

    library = models.OneToOneField(
        "members.MemberLibrary", on_delete=models.CASCADE, related_name="notice_sender"
    )
    from_name = models.CharField(_("from name"), max_length=200, blank=True)
    from_email = models.EmailField(_("from address"), blank=True)
    reply_to = models.EmailField(_("reply-to"), blank=True)
    # Own SMTP account; empty host means the portal's mail settings.
    smtp_host = models.CharField(_("SMTP host"), max_length=200, blank=True)
    smtp_port = models.PositiveIntegerField(_("SMTP port"), default=587)
    smtp_username = models.CharField(_("SMTP user"), max_length=200, blank=True)
    smtp_password = models.CharField(_("SMTP password"), max_length=200, blank=True)
    smtp_use_tls = models.BooleanField(_("STARTTLS"), default=True)
    # Or a provider through django-anymail: the backend's dotted path and its options.
    backend = models.CharField(_("mail backend"), max_length=200, blank=True)
    backend_options = models.JSONField(_("backend options"), default=dict, blank=True)

    class Meta:
        verbose_name = _("library sender")

    def __str__(self):
        return self.from_name or str(self.library_id)

    def connection_key(self) -> tuple | None:
        """Equal keys share one connection within a batch; None means the portal's default."""
        if self.backend:
            return ("backend", self.pk)
        if self.smtp_host:
            return ("smtp", self.smtp_host, self.smtp_port, self.smtp_username)
        return None


class Delivery(models.Model):
    """One recipient of one notice: the unit the engine claims, sends and records."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    # The unique (notice, contact) constraint's index serves lookups by notice.
    notice = models.ForeignKey(
        Notice, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # Snapshot references without database constraints: planning writes them with one
    # INSERT ... SELECT from rows it reads in the same transaction, so they are valid by
    # construction, and Django applies on_delete itself. At a million recipients the
    # deferred per-row checks at commit took longer than the insert.
    contact = models.ForeignKey(
        "patron_notices.Contact",
        null=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        db_constraint=False,
    )
    patron = models.ForeignKey(
        "patron_notices.Patron",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    # The library whose branding and sender the message carries. Lookups go through the
    # report index (notice, library, state); deleting a library is rare.
    library = models.ForeignKey(
        "members.MemberLibrary",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    language = models.CharField(max_length=8)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    # Not claimed again before this time: a temporary failure's back-off, a rate limit.
    due_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["notice", "contact"], name="one_delivery_per_contact")
        ]
        indexes = [
            # Claiming: the next queued rows of a notice, in id order.
            models.Index(
                fields=["notice", "id"],
                name="delivery_queued_idx",
                condition=models.Q(state="queued"),
            ),
            # The reaper: claimed rows whose lease ran out.
            models.Index(
                fields=["lease_until"],
                name="delivery_leased_idx",
                condition=models.Q(state="sending"),
            ),
            models.Index(fields=["notice", "library", "state"], name="delivery_report_idx"),
        ]

    def __str__(self):
        return f"delivery {self.pk} ({self.state})"

    @property
    def message_id(self) -> str:
        return message_id_for(self.notice_id, self.pk)


def message_id_for(notice_id: int, delivery_id: int) -> str:
    """Stable across retries and workers: a resent message is recognisably the same one."""
    return f"<notice-{notice_id}.delivery-{delivery_id}@{conf().message_id_domain}>"


def print_storage():
    # Letters carry names and addresses: in the "private" storage, served only by a view
    # that checks access.
    return storages["private"]


class PrintRun(models.Model):
    """One library's printed letters of a notice, for its patrons without an email address."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="print_runs")
    library = models.ForeignKey("members.MemberLibrary", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    letters = models.PositiveIntegerField(_("letters"), default=0)
    file = models.FileField(storage=print_storage, upload_to="print-runs/", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Only what went wrong in the portal's words, never a patron's data.
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("print run")
        constraints = [models.UniqueConstraint(fields=["notice", "library"], name="one_print_run")]

    def __str__(self):
        return f"print run {self.pk} ({self.state})"
