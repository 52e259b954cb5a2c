from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField
from wagtail.models import DraftStateMixin, RevisionMixin, Task, WorkflowMixin

from . import rules
from .blocks import LanguageVersionBlock
from .conf import conf


def import_storage():
    # Uploaded patron files hold personal data: in the "private" storage (VAR_DIR/private,
    # or object storage that every machine shares), never served. A callable, so the
    # migrations do not name the storage a deployment chose.
    return storages["private"]


def notice_kinds_default() -> list[str]:
    return [kind for kind, _label in NOTICE_KINDS]


# Kinds of consortium notice a patron can choose between on the self-service page.
NOTICE_KINDS = [
    ("services", _("Changes to library services")),
    ("events", _("Events and programmes")),
    ("surveys", _("Surveys")),
    ("general", _("General news from the libraries")),
]


class Contact(models.Model):
    """One person by normalised email, whatever number of library cards they hold.

    A campaign writes to a contact once even when several libraries list them.
    """

    email = models.EmailField(_("email address"))
    language = models.CharField(_("preferred language"), max_length=8, blank=True)
    notice_kinds = models.JSONField(_("kinds of notice"), default=notice_kinds_default)
    unsubscribed_all_at = models.DateTimeField(_("unsubscribed from all"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        # A constraint rather than unique=True: the same unique index, without the
        # varchar_pattern_ops twin Django adds for LIKE, which no query here uses and
        # which every new contact of an import paid for.
        constraints = [models.UniqueConstraint(fields=["email"], name="one_contact_per_email")]

    def __str__(self):
        return f"contact {self.pk}"


class Patron(models.Model):
    """A card holder of a member library: the audience of patron notices.

    One row per card. A person with cards at two libraries has two rows sharing an email
    address; a campaign deduplicates by address when it plans its recipients.
    """

    # No index of its own: the (library, card number) unique index leads with it. No
    # database constraint either, like contact and home_branch below and for the same
    # reasons: its check was a quarter of a first import's insert time, and the writers
    # hold the library row themselves (Django applies on_delete).
    library = models.ForeignKey(
        "members.MemberLibrary",
        verbose_name=_("library"),
        on_delete=models.CASCADE,
        related_name="patrons",
        db_index=False,
        db_constraint=False,
    )

    class Suppression(models.TextChoices):
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")

    card_number = models.CharField(_("card number"), max_length=32)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("email address"), blank=True)
    preferred_language = models.CharField(_("preferred language"), max_length=8, default="en")
    # When the patron agreed to receive notices; null means no consent on record.
    consent_given_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    # A default rather than auto_now_add, so an import can keep the ILS registration date.
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    # Added for the directory: db_default lets the demo seeder COPY without naming them.
    #
    # library, contact and home_branch are references without database constraints
    # (Django still applies on_delete). Their writers guarantee them: the import and the
    # sync API check branch codes against the library's branches and hold the library and
    # those rows with FOR KEY SHARE until commit (what the constraint's trigger does, once
    # per row referred to instead of once per patron); contacts are found or created in
    # the same transaction under a shared advisory lock that the purge of orphaned
    # contacts takes exclusively (directory/locks.py: hold_references, CONTACTS_LOCK). At a million
    # rows the per-row checks cost more than the insert itself.
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patrons",
        db_constraint=False,
    )
    phone = models.CharField(_("phone"), max_length=40, blank=True, db_default="", default="")
    home_branch = models.ForeignKey(
        "members.MemberLibrary",
        verbose_name=_("home branch"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        # A handful of values over a million rows: audiences filter it by joining the
        # branches, and deleting a branch (rare) scans once. The index cost an import a
        # fifth of its insert time.
        db_index=False,
    )
    category = models.CharField(
        _("patron category"), max_length=40, blank=True, db_default="", default=""
    )
    consent_source = models.CharField(
        _("consent source"), max_length=100, blank=True, db_default="", default=""
    )
    suppression = models.CharField(
        _("suppression"),
        max_length=16,
        choices=Suppression.choices,
        blank=True,
        db_default="",
        default="",
    )
    suppressed_at = models.DateTimeField(_("suppressed at"), null=True, blank=True)
    # The card's expiry in the ILS.
    expires_on = models.DateField(_("card expires"), null=True, blank=True)
    # Set when a full sync no longer lists the patron; the purge task deletes them later.
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)
    # When the card was last used (a loan, a login); a notice to a person with several cards
    # comes from the library they used most recently.
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("patron")
        verbose_name_plural = _("patrons")
        constraints = [
            models.UniqueConstraint(fields=["library", "card_number"], name="one_card_per_library")
        ]
        # No index on email (the directory's search compares it case-insensitively, which
        # a plain index cannot serve; notices reach people through their contact) and none
        # besides the foreign key's own on contact: each index is paid on every insert.

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name or self.card_number} ({self.library_id})"


class ImportJob(models.Model):
    """One CSV import of a library's patrons, run by a Celery task; its progress and outcome."""

    class Mode(models.TextChoices):
        VALID_ROWS = "valid_rows", _("Import the valid rows, list the others")
        ALL_OR_NOTHING = "all_or_nothing", _("All or nothing")

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Waiting for the column mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        REJECTED = "rejected", _("Rejected: nothing imported")
        FAILED = "failed", _("Failed")

    library = models.ForeignKey(
        "members.MemberLibrary", on_delete=models.CASCADE, related_name="patron_imports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    file = models.FileField(storage=import_storage, upload_to="patron-imports/")
    preset = models.CharField(max_length=20, default="generic")
    mapping = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.VALID_ROWS)
    full_sync = models.BooleanField(
        _("full sync"),
        default=False,
        help_text=_("Expire the library's patrons that the file no longer lists."),
    )

    class Phase(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        VALIDATING = "validating", _("Reading and checking the rows")
        DEDUPLICATING = "deduplicating", _("Finding repeated card numbers")
        WRITING = "writing", _("Writing patrons and contacts")
        EXPIRING = "expiring", _("Expiring patrons the file no longer lists")
        DONE = "done", _("Finished")
        FAILED = "failed", _("Failed")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.MAPPING)
    # What a running import is doing now; the admin's progress bar follows it.
    phase = models.CharField(
        _("phase"), max_length=16, choices=Phase.choices, default=Phase.WAITING
    )
    size = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.IntegerField(default=0)
    rows_imported = models.IntegerField(default=0)
    rows_invalid = models.IntegerField(default=0)
    rows_expired = models.IntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Never holds a patron's data: only what went wrong, in the portal's words.
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("patron import")

    def __str__(self):
        return f"import {self.pk} ({self.status})"

    # Where each phase starts on the progress bar: reading the file is most of the work.
    PHASE_START = {
        Phase.WAITING: 0,
        Phase.VALIDATING: 0,
        Phase.DEDUPLICATING: 60,
        Phase.WRITING: 65,
        Phase.EXPIRING: 95,
        Phase.DONE: 100,
        Phase.FAILED: 100,
    }

    @property
    def percent(self) -> int:
        if self.status in (self.Status.DONE, self.Status.REJECTED, self.Status.FAILED):
            return 100
        if self.phase == self.Phase.VALIDATING:
            return int(60 * self.bytes_read / self.size) if self.size else 0
        return self.PHASE_START.get(self.phase, 0)


class ImportProblem(models.Model):
    """A row the import could not take: file line, column and why; the raw row for download."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problems")
    line = models.IntegerField()
    column = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=30)
    message = models.CharField(max_length=300)
    raw = models.TextField(blank=True)

    class Meta:
        ordering = ["line", "pk"]

    def __str__(self):
        return f"line {self.line}: {self.code}"


class PreferenceChange(models.Model):
    """Every change a patron makes on the self-service page, with its time."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="changes")
    patron = models.ForeignKey(
        Patron, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(max_length=40)
    old_value = models.CharField(max_length=200, blank=True)
    new_value = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["changed_at", "pk"]

    def __str__(self):
        return f"{self.field} at {self.changed_at:%Y-%m-%d %H:%M}"


# -- notices -----------------------------------------------------------------------------------


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
        Contact,
        null=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        db_constraint=False,
    )
    patron = models.ForeignKey(
        Patron, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
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


# -- printed letters -----------------------------------------------------------------------------


class PostalAddress(models.Model):
    """Where a patron without an email address gets printed notices: the address block as
    it goes on the envelope, one line per line."""

    # The patron's id is the key: one index, not a key and a unique index beside it. No
    # database constraint, like the patron's own references (see Patron): the import and
    # the sync API write addresses only for the patrons they have just written, holding
    # the library's writer lock; Django still deletes the address with its patron. Both
    # measured at over half the cost of writing a million addresses.
    patron = models.OneToOneField(
        Patron,
        on_delete=models.CASCADE,
        related_name="postal_address",
        verbose_name=_("patron"),
        primary_key=True,
        db_constraint=False,
    )
    lines = models.TextField(_("address"))

    class Meta:
        verbose_name = _("postal address")
        verbose_name_plural = _("postal addresses")

    def __str__(self):
        return f"address of patron {self.patron_id}"


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
