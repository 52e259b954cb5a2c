"""A proposal: its text, its rules (who votes, how it is decided), its window and its
published result; its options, the extensions of its window and its discussion."""

from __future__ import annotations

from fractions import Fraction

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.fields import RichTextField

from portal.library_picker import LibrarySelect
from portal.members.models import MemberLibrary

from .. import tally
from .committees import Committee


class ProposalAdminForm(WagtailAdminModelForm):
    """Once a vote opens its rules and window are fixed (the window moves only by an
    audited extension on the portal)."""

    locked = (
        "committee",
        "electorate",
        "electorate_type",
        "electorate_flag",
        "weighting",
        "kind",
        "max_choices",
        "majority",
        "base",
        "abstentions",
        "quorum",
        "secret",
        "opens_at",
        "closes_at",
    )

    class Media:
        js = ["governance/proposal_form.js"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("secret") and cleaned.get("kind") == tally.RANKED:
            # A ranking cannot be counted as sums of encrypted counters: each instant-runoff
            # round needs whole ballots, which a secret ballot never decrypts.
            self.add_error(
                "secret",
                _(
                    "A ranked-choice ballot cannot be secret: its count needs every whole "
                    "ranking, and a secret ballot is only ever decrypted as totals. Choose "
                    "another kind of ballot, or an open vote."
                ),
            )
        if self.instance.pk and self.instance.state != "draft":
            changed = [name for name in self.locked if name in self.changed_data]
            if changed:
                raise ValidationError(
                    _("These cannot change once voting has opened: %(fields)s"),
                    params={"fields": ", ".join(changed)},
                )
        return cleaned


class Proposal(ClusterableModel):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")
        DECIDED = "decided", _("Decided")
        FAILED = "failed", _("Failed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Electorate(models.TextChoices):
        ALL = "all", _("All voting members")
        COMMITTEE = "committee", _("The committee's members")
        LIBRARY_TYPE = "library_type", _("Members of one type")
        FLAG = "flag", _("Members with a flag")

    class Flag(models.TextChoices):
        SHARES_CATALOGUE = "shares_catalogue", _("Shares the catalogue")

    class Weighting(models.TextChoices):
        ONE_EACH = tally.ONE_EACH, _("One library, one vote")
        WEIGHTED = tally.WEIGHTED, _("By the library's vote weight")

    class Kind(models.TextChoices):
        YES_NO = tally.YES_NO, _("Yes / no / abstain")
        CHOOSE_ONE = tally.CHOOSE_ONE, _("Choose one option")
        APPROVAL = tally.APPROVAL, _("Approve up to N options")
        RANKED = tally.RANKED, _("Ranked choice (instant runoff)")

    class Majority(models.TextChoices):
        SIMPLE = tally.SIMPLE, _("Simple majority")
        TWO_THIRDS = tally.TWO_THIRDS, _("Two-thirds")
        PLURALITY = tally.PLURALITY, _("Most support (choose-one and approval)")

    class Base(models.TextChoices):
        CAST = tally.OF_CAST, _("of the votes cast")
        ELIGIBLE = tally.OF_ELIGIBLE, _("of the eligible weight")
        MEMBERSHIP = tally.OF_MEMBERSHIP, _("of the entire membership")

    class Abstentions(models.TextChoices):
        EXCLUDED = tally.ABSTAIN_EXCLUDED, _("Not counted (Robert's Rules)")
        IN_BASE = tally.ABSTAIN_IN_BASE, _("Counted in the base (act like no)")

    committee = models.ForeignKey(
        Committee,
        verbose_name=_("committee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proposals",
        help_text=_("Empty for a consortium-wide proposal."),
    )
    title = models.CharField(_("title"), max_length=250)
    body = RichTextField(_("text"), blank=True)
    attachments = models.ManyToManyField(
        "wagtaildocs.Document", verbose_name=_("attachments"), blank=True, related_name="+"
    )
    # What the proposal is about, when it is another plugin's object (a policy revision).
    subject_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    mover = models.ForeignKey(
        MemberLibrary,
        verbose_name=_("moved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    seconder = models.ForeignKey(
        MemberLibrary,
        verbose_name=_("seconded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    electorate = models.CharField(
        _("electorate"), max_length=16, choices=Electorate.choices, default=Electorate.ALL
    )
    electorate_type = models.CharField(
        _("library type"), max_length=16, choices=MemberLibrary.LibraryType.choices, blank=True
    )
    electorate_flag = models.CharField(_("flag"), max_length=32, choices=Flag.choices, blank=True)
    weighting = models.CharField(
        _("weighting"), max_length=16, choices=Weighting.choices, default=Weighting.ONE_EACH
    )
    kind = models.CharField(_("ballot"), max_length=16, choices=Kind.choices, default=Kind.YES_NO)
    max_choices = models.PositiveSmallIntegerField(
        _("approve up to"), default=1, help_text=_("Approval ballots only.")
    )
    majority = models.CharField(
        _("majority"), max_length=16, choices=Majority.choices, default=Majority.SIMPLE
    )
    base = models.CharField(_("of"), max_length=16, choices=Base.choices, default=Base.CAST)
    abstentions = models.CharField(
        _("abstentions"),
        max_length=16,
        choices=Abstentions.choices,
        default=Abstentions.EXCLUDED,
    )
    quorum = models.DecimalField(
        _("quorum"),
        max_digits=4,
        decimal_places=3,
        default=0,
        help_text=_("Share of the eligible weight that must take part, e.g. 0.5."),
    )
    secret = models.BooleanField(
        _("secret ballot"),
        default=False,
        help_text=_(
            "Each choice is encrypted as it is cast and only the totals are decrypted, at the "
            "close: no one, not even whoever reads the database, sees how a library voted. "
            "Not for ranked choice."
        ),
    )
    opens_at = models.DateTimeField(_("voting opens"), null=True, blank=True)
    closes_at = models.DateTimeField(_("voting closes"), null=True, blank=True)

    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.DRAFT, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Frozen when voting opens, so weights changed later do not move the count.
    eligible_weight = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    membership_weight = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    # Written once, at close, together with the state: the results are published in one step.
    result = models.JSONField(null=True, blank=True, editable=False)
    outcome = models.CharField(max_length=16, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    announced_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the decision email is claimed, so it goes out once per proposal.
    decision_mailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Secret ballots: the Paillier public key (n, hexadecimal) made when voting opens, its
    # private part encrypted under BALLOT_SEALING_KEY (erased at the close), and the opening
    # of the sums with its proof, published with the result.
    ballot_key = models.TextField(blank=True, editable=False)
    sealed_private_key = models.TextField(blank=True, editable=False)
    tally_record = models.JSONField(null=True, blank=True, editable=False)

    base_form_class = ProposalAdminForm
    panels = [
        MultiFieldPanel(
            [FieldPanel("committee"), FieldPanel("title"), FieldPanel("body")],
            heading=_("Proposal"),
        ),
        FieldRowPanel(
            [
                FieldPanel("mover", widget=LibrarySelect),
                FieldPanel("seconder", widget=LibrarySelect),
            ]
        ),
        InlinePanel("options", label=_("Options (not for yes/no ballots)")),
        MultiFieldPanel(
            [
                FieldPanel("electorate"),
                FieldRowPanel([FieldPanel("electorate_type"), FieldPanel("electorate_flag")]),
                FieldPanel("weighting"),
            ],
            heading=_("Who votes"),
        ),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("kind"), FieldPanel("max_choices")]),
                FieldRowPanel([FieldPanel("majority"), FieldPanel("base")]),
                FieldRowPanel([FieldPanel("abstentions"), FieldPanel("quorum")]),
                FieldPanel("secret"),
            ],
            heading=_("How it is decided"),
        ),
        FieldRowPanel([FieldPanel("opens_at"), FieldPanel("closes_at")], heading=_("Window")),
    ]

    class Meta:
        ordering = ["-closes_at", "-pk"]
        verbose_name = _("proposal")
        indexes = [models.Index(fields=["state", "closes_at"])]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("governance:proposal", args=[self.pk])

    @property
    def sealed(self) -> bool:
        """Secret, with its choices encrypted (every secret proposal but ranked ones from
        before sealing, which keep their stored choices)."""
        return self.secret and bool(self.ballot_key)

    @property
    def is_final(self) -> bool:
        return self.state in (self.State.DECIDED, self.State.FAILED)

    def accepting_ballots(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.state == self.State.OPEN
            and self.closes_at is not None
            and (self.opens_at is None or self.opens_at <= now)
            and now < self.closes_at
        )

    def rule(self, options: list[str] | None = None) -> tally.Rule:
        if options is None:
            # A yes/no ballot has no options: spare the query (it runs on every ballot cast).
            options = [] if self.kind == tally.YES_NO else [o.key for o in self.options.all()]
        return tally.Rule(
            kind=self.kind,
            majority=self.majority,
            base=self.base,
            abstentions=self.abstentions,
            quorum=Fraction(self.quorum),
            options=tuple(options) if self.kind != tally.YES_NO else (),
            max_choices=self.max_choices,
        )


class ProposalOption(models.Model):
    proposal = ParentalKey(Proposal, on_delete=models.CASCADE, related_name="options")
    sort_order = models.PositiveIntegerField(default=0, editable=False)
    key = models.SlugField(_("key"), max_length=32)
    label = models.CharField(_("label"), max_length=200)

    panels = [FieldPanel("key"), FieldPanel("label")]

    class Meta:
        ordering = ["sort_order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "key"], name="option_key_per_proposal")
        ]

    def __str__(self):
        return self.label


class WindowExtension(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="extensions")
    previous_closes_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    reason = models.TextField(_("reason"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at"]

    def __str__(self):
        return f"#{self.proposal_id} to {self.closes_at:%Y-%m-%d %H:%M}"


class Comment(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    library = models.ForeignKey(
        MemberLibrary, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(_("comment"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Comment on #{self.proposal_id}"
