from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def import_storage():
    # Uploaded patron files hold personal data: kept outside MEDIA_ROOT, never served.
    return FileSystemStorage(location=settings.VAR_DIR / "private")


def notice_kinds_default() -> list[str]:
    return [kind for kind, _label in NOTICE_KINDS]


# Kinds of consortium notice a patron can choose between on the self-service page.
NOTICE_KINDS = [
    ("services", _("Changes to library services")),
    ("events", _("Events and programmes")),
    ("surveys", _("Surveys")),
]


class Contact(models.Model):
    """One person by normalised email, whatever number of library cards they hold.

    A campaign writes to a contact once even when several libraries list them.
    """

    email = models.EmailField(_("email address"), unique=True)
    language = models.CharField(_("preferred language"), max_length=8, blank=True)
    notice_kinds = models.JSONField(_("kinds of notice"), default=notice_kinds_default)
    unsubscribed_all_at = models.DateTimeField(_("unsubscribed from all"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self):
        return f"contact {self.pk}"


class Patron(models.Model):
    """A card holder of a member library: the audience of patron notices.

    One row per card. A person with cards at two libraries has two rows sharing an email
    address; a campaign deduplicates by address when it plans its recipients.
    """

    library = models.ForeignKey(
        "members.MemberLibrary",
        verbose_name=_("library"),
        on_delete=models.CASCADE,
        related_name="patrons",
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
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patrons",
    )
    phone = models.CharField(_("phone"), max_length=40, blank=True, db_default="", default="")
    home_branch = models.ForeignKey(
        "members.MemberLibrary",
        verbose_name=_("home branch"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
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

    class Meta:
        verbose_name = _("patron")
        verbose_name_plural = _("patrons")
        constraints = [
            models.UniqueConstraint(fields=["library", "card_number"], name="one_card_per_library")
        ]
        indexes = [
            models.Index(fields=["email"], name="patron_email_idx"),
            models.Index(fields=["contact"], name="patron_contact_idx"),
        ]

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
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.MAPPING)
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

    @property
    def percent(self) -> int:
        if self.status in (self.Status.DONE, self.Status.REJECTED):
            return 100
        return int(100 * self.bytes_read / self.size) if self.size else 0


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
