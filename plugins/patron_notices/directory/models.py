"""The patron directory's data: contacts, patrons and their postal addresses, imports and
their problems, and the preference changes patrons make. Uses nothing of the notice engine.

Django finds these through ``plugins.patron_notices.models`` (one app, one set of
migrations); code inside the plugin imports them from here."""

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
        # One unique index rather than unique=True's two (Django adds a varchar_pattern_ops
        # twin for LIKE). It compares bytes (the pattern operator class) instead of going
        # through the database's collation: equality is the same, nothing orders contacts
        # by email, and each of an import's new contacts is compared a dozen times on the
        # way in (see bench/RESULTS.md, issue 19). Other databases ignore the class.
        constraints = [
            models.UniqueConstraint(
                fields=["email"], name="one_contact_per_email", opclasses=["varchar_pattern_ops"]
            )
        ]

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
    # contacts takes exclusively (locks.py: hold_references, CONTACTS_LOCK). At a million
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
        # Card numbers compared as bytes, like the contact's email (see Contact): the same
        # equality, cheaper for the million insertions of a first import.
        constraints = [
            models.UniqueConstraint(
                fields=["library", "card_number"],
                name="one_card_per_library",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            )
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
