"""Shared policies: Wagtail pages, their published versions, local procedures, acknowledgements.

Every published revision of a :class:`PolicyPage` is snapshotted as a :class:`PolicyVersion`
(self-contained, so a citation keeps working when Wagtail purges old revisions). A change on
its way to publication through a committee vote is a :class:`PolicyChange`: it is the generic
*subject* of the governance proposal, so this module never needs to know that plugin.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.contrib.taggit import ClusterTaggableManager
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from taggit.models import TaggedItemBase
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page, Revision
from wagtail.search import index

from portal.members.models import MemberLibrary

from .blocks import PolicyBodyBlock, body_lines, numbered
from .forms import PolicyPageForm

policy_code = RegexValidator(
    r"^[A-Z][A-Z0-9]{1,9}-[0-9]{1,4}$", _("Use a short code such as CIRC-004.")
)


class PolicyCategory(models.Model):
    """A shelf of the policy library: circulation, privacy, conduct, collections, fines."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    panels = [FieldPanel("name"), FieldPanel("slug"), FieldPanel("order")]

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("policy category")
        verbose_name_plural = _("policy categories")

    def __str__(self):
        return self.name


class PolicyLibraryPage(Page):
    """The consortium's policy library: the parent of every policy page."""

    intro = RichTextField(_("introduction"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    subpage_types = ["policies.PolicyPage"]
    max_count = 1
    # Readers are sent to the portal's index (``wagtail_hooks``): nothing here to preview.
    preview_modes: list = []

    class Meta:
        verbose_name = _("policy library")


class PolicyPageTag(TaggedItemBase):
    content_object = ParentalKey(
        "policies.PolicyPage", on_delete=models.CASCADE, related_name="tagged_items"
    )


class PolicyPage(Page):
    """One shared policy. Its live revision is the current version."""

    code = models.CharField(
        _("code"),
        max_length=16,
        unique=True,
        validators=[policy_code],
        help_text=_("Stable short code used to cite the policy, e.g. CIRC-004."),
    )
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    category = models.ForeignKey(
        PolicyCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="policies",
    )
    tags = ClusterTaggableManager(through=PolicyPageTag, blank=True)
    policy_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("policy owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_policies",
        help_text=_("Who keeps the policy under review."),
    )
    review_interval_months = models.PositiveSmallIntegerField(
        _("review every (months)"), default=12
    )
    next_review_date = models.DateField(_("next review"), null=True, blank=True)
    effective_date = models.DateField(
        _("effective date"),
        null=True,
        blank=True,
        help_text=_("When this version takes effect; empty means on publication."),
    )
    body = StreamField(PolicyBodyBlock(), verbose_name=_("policy text"), blank=True)
    # Written by the editor for the revision being prepared; snapshotted on publication.
    change_summary = models.TextField(
        _("what changed"), blank=True, help_text=_("Shown with the version and in the diff.")
    )
    change_is_material = models.BooleanField(
        _("material change"),
        default=True,
        help_text=_(
            "Material: every required person acknowledges again and is shown what changed. "
            "Minor: earlier acknowledgements still count."
        ),
    )
    acknowledgement_days = models.PositiveSmallIntegerField(
        _("days to acknowledge"),
        default=30,
        help_text=_("For a material change; 0 asks nobody to acknowledge it."),
    )
    # Who must acknowledge this revision once published (kept with the revision, so a change
    # adopted by a committee carries the editor's choice): roles, libraries, due date.
    acknowledgement_roles = models.JSONField(_("who acknowledges"), default=list, blank=True)
    acknowledgement_libraries = ParentalManyToManyField(
        MemberLibrary,
        verbose_name=_("libraries that acknowledge"),
        blank=True,
        related_name="+",
        help_text=_("None chosen means every member library; a system reaches its branches."),
    )
    acknowledge_by = models.DateField(
        _("acknowledge by"),
        null=True,
        blank=True,
        help_text=_("Due date; empty means the number of days above after publication."),
    )
    # A reading check offered by another plugin through portal.signals.reading_quizzes.
    acknowledgement_quiz = models.CharField(
        _("acknowledge by passing a quiz"),
        max_length=100,
        blank=True,
        help_text=_(
            "Where training is on for a library, its staff acknowledge by passing this quiz; "
            "elsewhere a click is enough."
        ),
    )

    content_panels = [
        *Page.content_panels,
        FieldRowPanel([FieldPanel("code"), FieldPanel("category")]),
        FieldPanel("summary"),
        FieldPanel("tags"),
        FieldPanel("body"),
        MultiFieldPanel(
            [
                FieldPanel("change_summary"),
                FieldRowPanel([FieldPanel("change_is_material"), FieldPanel("effective_date")]),
            ],
            heading=_("This revision"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("acknowledgement_roles"),
                FieldPanel("acknowledgement_libraries"),
                FieldRowPanel([FieldPanel("acknowledge_by"), FieldPanel("acknowledgement_days")]),
                FieldPanel("acknowledgement_quiz"),
            ],
            heading=_("Acknowledgement of a material change"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("policy_owner"),
                FieldRowPanel(
                    [FieldPanel("review_interval_months"), FieldPanel("next_review_date")]
                ),
            ],
            heading=_("Review"),
        ),
    ]
    search_fields = [
        *Page.search_fields,
        index.SearchField("code", boost=5),
        index.AutocompleteField("code"),
        index.SearchField("summary"),
        index.SearchField("body_text"),
        index.RelatedFields("tags", [index.SearchField("name")]),
        index.FilterField("category"),
        index.FilterField("live"),
        index.FilterField("has_unpublished_changes"),
        index.FilterField("next_review_date"),
    ]
    parent_page_types = ["policies.PolicyLibraryPage"]
    subpage_types: list = []
    base_form_class = PolicyPageForm
    template = "policies/policy_detail.html"

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")

    def full_clean(self, *args, **kwargs):
        # The slug follows the code so the page tree reads like the citations.
        if self.code and not self.slug:
            self.slug = self.code.lower()
        super().full_clean(*args, **kwargs)

    @property
    def body_text(self) -> str:
        return "\n".join(body_lines(self.body))

    def get_context(self, request, *args, **kwargs):
        """The text as the editor's preview shows it: numbered, not yet a version. The
        portal serves the page through ``views.reading`` (``wagtail_hooks``), which adds the
        current version, the person's acknowledgement and the local procedures."""
        context = super().get_context(request, *args, **kwargs)
        context.update(blocks=numbered(self.body), preview=getattr(request, "is_preview", False))
        return context


class AuthorityMixin(models.Model):
    """What authorised something: a proposal (any plugin's object) or the office's approval."""

    authority_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    authority_id = models.CharField(max_length=64, blank=True)
    authority = GenericForeignKey("authority_type", "authority_id")
    # Kept as text too, so the citation survives the authority's plugin being removed.
    authority_label = models.CharField(_("authority"), max_length=300, blank=True)
    authority_url = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True

    def set_authority(self, obj=None, label: str = "") -> None:
        if obj is not None and hasattr(obj, "_meta"):
            self.authority_type = ContentType.objects.get_for_model(obj)
            self.authority_id = str(obj.pk)
        if obj is not None:
            url = getattr(obj, "get_absolute_url", None)
            try:
                self.authority_url = (url() if callable(url) else "") or ""
            except Exception:  # noqa: BLE001 - a link is a nicety, never a reason to fail
                self.authority_url = ""
        self.authority_label = str(label or obj or "")[:300]


class PolicyVersion(AuthorityMixin):
    """A published version of a policy, kept for good and citable as CODE/vN."""

    policy = models.ForeignKey(PolicyPage, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    revision = models.ForeignKey(
        Revision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    code = models.CharField(_("code"), max_length=16)
    title = models.CharField(_("title"), max_length=255)
    body = models.JSONField(_("text"), default=list)
    text = models.TextField(_("plain text"), blank=True)
    change_summary = models.TextField(_("what changed"), blank=True)
    material = models.BooleanField(_("material change"), default=True)
    # The number of the latest material version at or before this one: acknowledgements of
    # that version or later count for this one.
    material_base = models.PositiveIntegerField()
    effective_date = models.DateField(_("effective date"))
    published_at = models.DateTimeField(_("published"), default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["policy", "-number"]
        verbose_name = _("policy version")
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="one_number_per_policy")
        ]

    def __str__(self):
        return f"{self.code} v{self.number}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("policies:version", args=[self.code, self.number])

    @property
    def stream(self):
        """The snapshotted body as a StreamValue, rendered like a live page."""
        block = PolicyPage._meta.get_field("body").stream_block
        return block.to_python(self.body)


class PolicyChange(AuthorityMixin):
    """A draft revision on its way to publication: comment period, then a committee vote.

    This is what the office picks as the subject of a governance proposal.
    """

    class Status(models.TextChoices):
        COMMENT = "comment", _("Open for comment")
        PROPOSED = "proposed", _("Before the committee")
        SCHEDULED = "scheduled", _("Adopted, waiting for its effective date")
        PUBLISHED = "published", _("Published")
        REJECTED = "rejected", _("Not adopted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    policy = models.ForeignKey(PolicyPage, on_delete=models.CASCADE, related_name="changes")
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.COMMENT
    )
    comment_until = models.DateField(_("comments close"), null=True, blank=True)
    effective_date = models.DateField(_("effective date"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    version = models.OneToOneField(
        PolicyVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="change"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("proposed policy change")

    def __str__(self):
        created = timezone.localtime(self.revision.created_at).date()
        return _("%(code)s: %(title)s (revision of %(date)s)") % {
            "code": self.policy.code,
            "title": self.policy.title,
            "date": created.isoformat(),
        }

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("policies:change", args=[self.pk])

    @property
    def draft(self) -> PolicyPage:
        return self.revision.as_object()


class DraftComment(models.Model):
    """A member director's comment on a proposed change during its comment period."""

    change = models.ForeignKey(PolicyChange, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    library = models.ForeignKey(MemberLibrary, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(_("comment"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.author} @ {self.library}: {self.text[:40]}"


class LocalProcedure(index.Indexed, models.Model):
    """A member library's own procedure attached to a shared policy; never edits the policy."""

    policy = models.ForeignKey(
        PolicyPage, on_delete=models.CASCADE, related_name="local_procedures"
    )
    library = models.ForeignKey(
        MemberLibrary, on_delete=models.CASCADE, related_name="policy_procedures"
    )
    text = models.TextField(_("local procedure"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    search_fields = [
        index.SearchField("text"),
        index.FilterField("library"),
        index.FilterField("policy"),
    ]

    class Meta:
        verbose_name = _("local procedure")
        constraints = [
            models.UniqueConstraint(fields=["policy", "library"], name="one_procedure_per_library")
        ]

    def __str__(self):
        return f"{self.policy.code} @ {self.library}"


class AcknowledgementCampaign(models.Model):
    """Who must read and acknowledge a version, and by when."""

    policy = models.ForeignKey(PolicyPage, on_delete=models.CASCADE, related_name="campaigns")
    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="campaigns")
    roles = models.JSONField(_("roles"), default=list)
    # Empty means every member library; a system reaches its branches.
    libraries = models.ManyToManyField(
        MemberLibrary, verbose_name=_("libraries"), blank=True, related_name="+"
    )
    due_date = models.DateField(_("due date"))
    # Key of a reading-check quiz (portal.signals.reading_quiz); empty: a click acknowledges.
    quiz_key = models.CharField(_("quiz"), max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_date"]
        verbose_name = _("acknowledgement campaign")

    def __str__(self):
        return _("%(version)s: acknowledge by %(date)s") % {
            "version": self.version,
            "date": self.due_date.isoformat(),
        }

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        return (today or timezone.localdate()) > self.due_date


class Acknowledgement(models.Model):
    """A person's record that they read a version (one per person and version)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_acknowledgements"
    )
    policy = models.ForeignKey(
        PolicyPage, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    version = models.ForeignKey(
        PolicyVersion, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    library = models.ForeignKey(
        MemberLibrary, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Method(models.TextChoices):
        CLICK = "click", _("Confirmed reading")
        QUIZ = "quiz", _("Passed the quiz")

    method = models.CharField(_("how"), max_length=8, choices=Method.choices, default=Method.CLICK)
    score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("acknowledgement")
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="one_ack_per_version")
        ]
        indexes = [models.Index(fields=["policy", "user"])]

    def __str__(self):
        return f"{self.user} — {self.version}"


class ReminderSent(models.Model):
    """Claims one reminder so periodic runs (and racing workers) send it once."""

    kind = models.CharField(max_length=32)
    key = models.CharField(max_length=100)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="one_reminder_per_key")]

    def __str__(self):
        return f"{self.kind} {self.key}"
