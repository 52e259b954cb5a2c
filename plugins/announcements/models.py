"""Announcements: Wagtail pages addressed to member staff, and who has read them."""

from __future__ import annotations

import secrets

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalManyToManyField
from wagtail.admin.panels import FieldPanel, HelpPanel, MultiFieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index

from portal.library_picker import LibraryCheckboxes
from portal.members.roles import role_choices

from .admin_forms import AnnouncementPageForm


class RolesField(models.CharField):
    """A set of role codes kept as ``,director,staff,`` so a role is found by ``contains``.

    The delimiters on both ends make ``contains=",staff,"`` exact and portable (SQLite in
    the embedded default has no array type). Python sees the stored text; forms see a list.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    @staticmethod
    def encode(roles) -> str:
        roles = [r for r in roles if r]
        return f",{','.join(sorted(set(roles)))}," if roles else ""

    @staticmethod
    def decode(text: str) -> list[str]:
        return [r for r in (text or "").split(",") if r]

    def to_python(self, value):
        if isinstance(value, list | tuple | set):
            return self.encode(value)
        return super().to_python(value)

    def get_prep_value(self, value):
        if isinstance(value, list | tuple | set):
            value = self.encode(value)
        return super().get_prep_value(value)

    def save_form_data(self, instance, data):
        setattr(instance, self.attname, self.encode(data or []))

    def formfield(self, **kwargs):
        return RoleChoiceField(
            choices=role_choices,  # the office may add roles: read when the form is drawn
            required=False,
            label=self.verbose_name,
            help_text=self.help_text,
            widget=forms.CheckboxSelectMultiple,
        )


class RoleChoiceField(forms.MultipleChoiceField):
    """Shows the stored ``,a,b,`` text as ticked boxes."""

    def prepare_value(self, value):
        if isinstance(value, str):
            return RolesField.decode(value)
        return value

    def has_changed(self, initial, data):
        return super().has_changed(self.prepare_value(initial), data)


class AnnouncementIndexPage(Page):
    """Where announcements live in the page tree; the office publishes under it."""

    intro = RichTextField(_("introduction"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    subpage_types = ["announcements.AnnouncementPage"]
    max_count = 1
    # Readers are sent to the portal's list (``wagtail_hooks``): nothing here to preview.
    preview_modes: list = []

    class Meta:
        verbose_name = _("announcement index")


class AnnouncementPage(Page):
    """News for member staff: everyone, chosen libraries (with their branches), chosen roles."""

    class Category(models.TextChoices):
        SERVICE_CHANGE = "service_change", _("Service change")
        SYSTEM_OUTAGE = "system_outage", _("System outage")
        GOVERNANCE = "governance", _("Governance")
        TRAINING = "training", _("Training")
        GENERAL = "general", _("General")

    class Priority(models.TextChoices):
        NORMAL = "normal", _("Normal")
        URGENT = "urgent", _("Urgent")

    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("All member staff")
        LIBRARIES = "libraries", _("Chosen libraries and their branches")

    body = RichTextField(_("body"))
    category = models.CharField(
        _("category"), max_length=20, choices=Category.choices, default=Category.GENERAL
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    audience = models.CharField(
        _("audience"), max_length=10, choices=Audience.choices, default=Audience.EVERYONE
    )
    audience_libraries = ParentalManyToManyField(
        "members.MemberLibrary",
        verbose_name=_("libraries"),
        blank=True,
        related_name="+",
        help_text=_("A library system includes its branches."),
    )
    audience_roles = RolesField(
        _("roles"), help_text=_("Leave empty for every role at those libraries.")
    )
    # A dated event (training day, planned outage) also appears in the calendar feed.
    event_start = models.DateTimeField(_("event starts"), null=True, blank=True)
    event_end = models.DateTimeField(_("event ends"), null=True, blank=True)
    event_location = models.CharField(_("event location"), max_length=200, blank=True)

    content_panels = [
        *Page.content_panels,
        FieldPanel("body"),
        FieldPanel("category"),
        FieldPanel("priority"),
        MultiFieldPanel(
            [
                FieldPanel("audience"),
                FieldPanel("audience_libraries", widget=LibraryCheckboxes),
                FieldPanel("audience_roles"),
                # "Reaches N people", as last saved (templatetags/announcements_admin.py).
                HelpPanel(template="announcements/admin/audience_reach.html"),
            ],
            heading=_("Audience"),
        ),
        MultiFieldPanel(
            [FieldPanel("event_start"), FieldPanel("event_end"), FieldPanel("event_location")],
            heading=_("Dated event"),
        ),
    ]
    base_form_class = AnnouncementPageForm
    search_fields = [*Page.search_fields, index.SearchField("body")]
    parent_page_types = ["announcements.AnnouncementIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")

    @property
    def is_urgent(self) -> bool:
        return self.priority == self.Priority.URGENT

    @property
    def roles(self) -> list[str]:
        return RolesField.decode(self.audience_roles)

    def clean(self):
        super().clean()
        if self.event_start and self.event_end and self.event_end < self.event_start:
            raise ValidationError({"event_end": _("The event cannot end before it starts.")})

    def get_context(self, request, *args, **kwargs):
        """The announcement as the editor's preview shows it. Its readers are sent to the
        portal's address for it (``views.serve_announcement``, through ``wagtail_hooks``)."""
        context = super().get_context(request, *args, **kwargs)
        context["preview"] = getattr(request, "is_preview", False)
        return context


class AnnouncementRead(models.Model):
    """A person has read an announcement (the dashboard shows unread ones first)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="announcements_read"
    )
    page = models.ForeignKey(AnnouncementPage, on_delete=models.CASCADE, related_name="reads")
    read_at = models.DateTimeField(_("read at"))

    class Meta:
        verbose_name = _("announcement read")
        constraints = [
            models.UniqueConstraint(fields=["user", "page"], name="announcement_read_once")
        ]

    def __str__(self):
        return f"{self.user_id} read {self.page_id}"


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class AnnouncementPreference(models.Model):
    """How a person wants to hear about announcements; absent means the defaults."""

    class Digest(models.TextChoices):
        NONE = "none", _("No digest")
        DAILY = "daily", _("Daily digest")
        WEEKLY = "weekly", _("Weekly digest")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="announcement_preference"
    )
    urgent_immediately = models.BooleanField(_("email urgent announcements at once"), default=True)
    digest = models.CharField(
        _("digest of the others"), max_length=10, choices=Digest.choices, default=Digest.WEEKLY
    )
    # The secret in the person's feed URLs; replacing it revokes the old links.
    feed_token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    last_digest_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("announcement preference")

    def __str__(self):
        return f"{self.user_id}: {self.digest}"


class AnnouncementEmail(models.Model):
    """One email about one announcement to one person: keeps sending idempotent."""

    class Kind(models.TextChoices):
        URGENT = "urgent", _("Urgent")
        DIGEST = "digest", _("Digest")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    page = models.ForeignKey(AnnouncementPage, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "page"], name="announcement_emailed_once")
        ]

    def __str__(self):
        return f"{self.kind} {self.page_id} -> {self.user_id}"
