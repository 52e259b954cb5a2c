from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
    card_number = models.CharField(_("card number"), max_length=32)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("email address"), blank=True)
    preferred_language = models.CharField(_("preferred language"), max_length=8, default="en")
    # When the patron agreed to receive notices; null means no consent on record.
    consent_given_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    # A default rather than auto_now_add, so an import can keep the ILS registration date.
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("patron")
        verbose_name_plural = _("patrons")
        constraints = [
            models.UniqueConstraint(fields=["library", "card_number"], name="one_card_per_library")
        ]
        indexes = [models.Index(fields=["email"], name="patron_email_idx")]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name or self.card_number} ({self.library_id})"
