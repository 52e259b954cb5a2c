"""Meetings, of a committee or of the whole membership, with their agendas and minutes."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel
from wagtail.fields import RichTextField

from .committees import Committee


class Meeting(ClusterableModel):
    committee = models.ForeignKey(
        Committee,
        verbose_name=_("committee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="meetings",
        help_text=_("Empty for a meeting of the whole membership."),
    )
    title = models.CharField(_("title"), max_length=200)
    starts_at = models.DateTimeField(_("starts at"))
    location = models.CharField(_("location"), max_length=200, blank=True)
    minutes = RichTextField(_("minutes"), blank=True)

    panels = [
        FieldPanel("committee"),
        FieldPanel("title"),
        FieldRowPanel([FieldPanel("starts_at"), FieldPanel("location")]),
        InlinePanel("agenda_items", label=_("Agenda")),
        FieldPanel("minutes"),
    ]

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("meeting")

    def __str__(self):
        return f"{self.title} ({self.starts_at:%Y-%m-%d})"


class AgendaItem(models.Model):
    meeting = ParentalKey(Meeting, on_delete=models.CASCADE, related_name="agenda_items")
    sort_order = models.PositiveIntegerField(default=0, editable=False)
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    proposal = models.ForeignKey(
        "Proposal",
        verbose_name=_("proposal"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="agenda_items",
    )

    panels = [FieldPanel("title"), FieldPanel("notes"), FieldPanel("proposal")]

    class Meta:
        ordering = ["sort_order", "pk"]

    def __str__(self):
        return self.title
