"""Committees and the member libraries that sit on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel

from portal.library_picker import LibrarySelect
from portal.members.models import MemberLibrary


class Committee(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    description = models.TextField(_("description"), blank=True)
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("chair"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    libraries = models.ManyToManyField(
        MemberLibrary,
        through="CommitteeMembership",
        related_name="committees",
        verbose_name=_("member libraries"),
        blank=True,
    )

    panels = [
        FieldPanel("name"),
        FieldPanel("slug"),
        FieldPanel("description"),
        FieldPanel("chair"),
    ]

    class Meta:
        ordering = ["name"]
        verbose_name = _("committee")

    def __str__(self):
        return self.name


class CommitteeMembership(models.Model):
    committee = models.ForeignKey(Committee, on_delete=models.CASCADE, related_name="memberships")
    library = models.ForeignKey(
        MemberLibrary, on_delete=models.CASCADE, related_name="committee_memberships"
    )
    since = models.DateField(_("since"), default=timezone.localdate)

    panels = [
        FieldPanel("committee"),
        FieldPanel("library", widget=LibrarySelect),
        FieldPanel("since"),
    ]

    class Meta:
        verbose_name = _("committee membership")
        constraints = [
            models.UniqueConstraint(fields=["committee", "library"], name="one_seat_per_committee")
        ]

    def __str__(self):
        return f"{self.library} @ {self.committee}"
