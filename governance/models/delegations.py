"""The people a director names to vote for the library: alternates and dated proxies."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.members.models import MemberLibrary


class Delegation(models.Model):
    """A person a director named to vote for the library: an alternate or a dated proxy."""

    class Kind(models.TextChoices):
        ALTERNATE = "alternate", _("Alternate")
        PROXY = "proxy", _("Proxy")

    library = models.ForeignKey(MemberLibrary, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="governance_delegations"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"), null=True, blank=True)
    named_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on"]
        indexes = [models.Index(fields=["person", "library"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="delegation_dates_in_order",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.person} for {self.library}"

    def covers(self, day) -> bool:
        return (
            self.revoked_at is None
            and self.starts_on <= day
            and (self.ends_on is None or day <= self.ends_on)
        )
