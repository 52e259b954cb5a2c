"""Courses, lessons, quizzes; who must take what; progress, completions and certificates.

A person's work on a course lives in one :class:`Enrolment` per *cycle*: re-certification
opens a new cycle (fresh lessons and quiz attempts) and leaves the old one, its completion
and its certificate as history. Only the newest cycle is ``current``.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from modelcluster.models import ClusterableModel
from wagtail import blocks
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.embeds.blocks import EmbedBlock
from wagtail.fields import RichTextField, StreamField
from wagtail.images.blocks import ImageBlock
from wagtail.models import Orderable, Page

from portal.members.models import MemberLibrary

# Unambiguous characters for codes a person may type from a printed certificate.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_verification_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


# --- Content ---------------------------------------------------------------------------


class CalloutBlock(blocks.StructBlock):
    kind = blocks.ChoiceBlock(
        choices=[("tip", _("Tip")), ("important", _("Important")), ("law", _("The law says"))],
        default="tip",
        label=_("kind"),
    )
    text = blocks.RichTextBlock(features=["bold", "italic", "link"], label=_("text"))

    class Meta:
        icon = "warning"
        label = _("Callout")
        template = "training/blocks/callout.html"


class LessonBodyBlock(blocks.StreamBlock):
    text = blocks.RichTextBlock(label=_("Text"))
    image = ImageBlock(label=_("Image"))
    video = EmbedBlock(label=_("Video"), help_text=_("A YouTube or Vimeo address."))
    document = DocumentChooserBlock(label=_("Document"))
    callout = CalloutBlock()


class CoursePage(Page):
    """A course: its lessons are child pages, in the order the page tree gives them."""

    description = RichTextField(_("description"), blank=True)
    audience = models.CharField(
        _("audience"), max_length=255, blank=True, help_text=_("Who the course is for.")
    )
    estimated_minutes = models.PositiveIntegerField(_("estimated time (minutes)"), default=30)
    prerequisites = ParentalManyToManyField(
        "self", verbose_name=_("prerequisites"), blank=True, symmetrical=False
    )
    recertify_months = models.PositiveSmallIntegerField(
        _("re-certification period (months)"),
        null=True,
        blank=True,
        help_text=_("Certificates expire after this many months; empty means never."),
    )

    content_panels = [
        *Page.content_panels,
        FieldPanel("description"),
        FieldPanel("audience"),
        FieldPanel("estimated_minutes"),
        FieldPanel("prerequisites"),
        FieldPanel("recertify_months"),
    ]
    subpage_types = ["training.LessonPage"]
    template = "training/course_page.html"

    class Meta:
        verbose_name = _("course")

    def lessons(self):
        return LessonPage.objects.child_of(self).live().order_by("path")

    # The route below only finds a child, as Wagtail's does: the portal may go straight
    # to a lesson it served before (portal.home.routing).
    routes_like_wagtail = True

    def route(self, request, path_components):
        """Wagtail's routing, a lesson found in one query: Wagtail finds a child page and
        then reads its lesson row (two queries a level)."""
        if len(path_components) == 1:
            lesson = LessonPage.objects.child_of(self).filter(slug=path_components[0]).first()
            if lesson is not None:
                # As Wagtail does: the lesson's course without another query.
                lesson._cached_parent_obj = self
                return lesson.route(request, [])
        return super().route(request, path_components)

    def quiz_or_none(self) -> Quiz | None:
        return Quiz.objects.filter(course=self).first() if self.pk else None

    def get_context(self, request, *args, **kwargs):
        """The course as anyone reads it, and as the editor's preview shows it. The portal
        serves the page through ``views.courses`` (``wagtail_hooks``), which adds the
        person's enrolment and progress."""
        context = super().get_context(request, *args, **kwargs)
        context.update(
            course=self,
            lessons=[(lesson, False) for lesson in self.lessons()],
            quiz=self.quiz_or_none(),
            preview=getattr(request, "is_preview", False),
        )
        return context


class LessonPage(Page):
    body = StreamField(LessonBodyBlock(), verbose_name=_("body"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("body")]
    parent_page_types = ["training.CoursePage"]
    subpage_types: list[str] = []
    template = "training/lesson_page.html"

    class Meta:
        verbose_name = _("lesson")

    @cached_property
    def course(self) -> CoursePage:
        return self.get_parent().specific

    def get_context(self, request, *args, place=True, **kwargs):
        """The lesson in its course (position, neighbours, the quiz at the end), as anyone
        reads it and as the editor's preview shows it; the portal's view adds the
        person's enrolment (``views.courses``), and works the place out only when what
        it keeps of the page is missing (``place=False``)."""
        context = super().get_context(request, *args, **kwargs)
        context.update(
            lesson=self, course=self.course, preview=getattr(request, "is_preview", False)
        )
        if place:
            context.update(self.place_in_course())
        return context

    def place_in_course(self) -> dict:
        """Position, neighbours and the quiz at the end: two queries."""
        lessons = list(self.course.lessons())
        index = next((i for i, item in enumerate(lessons) if item.pk == self.pk), 0)
        return {
            "position": index + 1,
            "count": len(lessons),
            "previous": lessons[index - 1] if index > 0 else None,
            "next": lessons[index + 1] if index + 1 < len(lessons) else None,
            "quiz": self.course.quiz_or_none(),
        }


class Quiz(ClusterableModel):
    """The quiz that ends a course; passing it (with every lesson done) completes the course."""

    course = models.OneToOneField(
        CoursePage, verbose_name=_("course"), on_delete=models.CASCADE, related_name="quiz"
    )
    title = models.CharField(_("title"), max_length=255, default=_("Final quiz"))
    pass_mark = models.PositiveSmallIntegerField(
        _("pass mark (%)"), default=80, help_text=_("Percentage of questions answered right.")
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("attempts allowed"), null=True, blank=True, help_text=_("Empty means unlimited.")
    )
    shuffle = models.BooleanField(_("shuffle the options"), default=True)

    panels = [
        FieldPanel("course"),
        FieldPanel("title"),
        MultiFieldPanel(
            [FieldPanel("pass_mark"), FieldPanel("max_attempts"), FieldPanel("shuffle")],
            heading=_("Rules"),
        ),
    ]

    class Meta:
        verbose_name = _("quiz")
        verbose_name_plural = _("quizzes")

    def __str__(self):
        return f"{self.course.title}: {self.title}"


class Question(Orderable, ClusterableModel):
    class Kind(models.TextChoices):
        SINGLE = "single", _("One answer")
        MULTIPLE = "multiple", _("Several answers")

    quiz = ParentalKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField(_("question"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.SINGLE)

    # Options are edited on the question's own admin page (nested inline panels are not
    # something Wagtail supports).
    panels = [FieldPanel("quiz"), FieldPanel("text"), FieldPanel("kind"), InlinePanel("options")]

    class Meta(Orderable.Meta):
        verbose_name = _("question")

    def __str__(self):
        return self.text[:80]


class Option(Orderable):
    question = ParentalKey(Question, on_delete=models.CASCADE, related_name="options")
    text = models.CharField(_("option"), max_length=500)
    correct = models.BooleanField(_("correct"), default=False)
    feedback = models.TextField(_("feedback"), blank=True, help_text=_("Shown after answering."))

    panels = [FieldPanel("text"), FieldPanel("correct"), FieldPanel("feedback")]

    class Meta(Orderable.Meta):
        verbose_name = _("option")

    def __str__(self):
        return self.text


# --- Who must take what ---------------------------------------------------------------


class Assignment(models.Model):
    """A standing rule: everyone it targets, now or later, is enrolled in the course.

    Targets are roles, libraries (a library includes its branches) and people. With roles
    and no libraries, the roles are taken across the assigning library's whole subtree.
    """

    course = models.ForeignKey(
        CoursePage, verbose_name=_("course"), on_delete=models.CASCADE, related_name="assignments"
    )
    # The library on whose authority this was assigned; targets never reach outside it.
    library = models.ForeignKey(
        MemberLibrary, verbose_name=_("assigned for"), on_delete=models.CASCADE, related_name="+"
    )
    roles = models.JSONField(_("roles"), default=list, blank=True)
    libraries = models.ManyToManyField(
        MemberLibrary, verbose_name=_("libraries"), blank=True, related_name="+"
    )
    people = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("people"), blank=True, related_name="+"
    )
    due_on = models.DateField(_("due date"), null=True, blank=True)
    days_to_complete = models.PositiveSmallIntegerField(
        _("days to complete"),
        default=30,
        help_text=_("For people enrolled after the due date has passed, or when there is none."),
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("assignment")

    def __str__(self):
        return f"{self.course} @ {self.library}"

    def due_for_newcomer(self, today: date | None = None) -> date:
        today = today or timezone.localdate()
        if self.due_on and self.due_on >= today:
            return self.due_on
        return today + timedelta(days=self.days_to_complete)


class Enrolment(models.Model):
    class State(models.TextChoices):
        ENROLLED = "enrolled", _("Not started")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_enrolments"
    )
    course = models.ForeignKey(CoursePage, on_delete=models.CASCADE, related_name="enrolments")
    # The library the person takes it for (reports group by it).
    library = models.ForeignKey(MemberLibrary, on_delete=models.CASCADE, related_name="+")
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrolments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cycle = models.PositiveSmallIntegerField(default=1)
    current = models.BooleanField(default=True)
    due = models.DateField(_("due"), null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ENROLLED)
    last_lesson = models.ForeignKey(
        LessonPage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("enrolment")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "course", "cycle"], name="one_enrolment_a_cycle"
            ),
            models.UniqueConstraint(
                fields=["user", "course"], condition=Q(current=True), name="one_current_enrolment"
            ),
        ]
        indexes = [models.Index(fields=["library", "current"]), models.Index(fields=["due"])]

    def __str__(self):
        return f"{self.user} — {self.course}"

    def is_overdue(self, today: date | None = None) -> bool:
        today = today or timezone.localdate()
        return self.state != self.State.COMPLETED and self.due is not None and self.due < today

    @property
    def status(self) -> str:
        """``completed``, ``overdue``, ``in_progress`` or ``enrolled``."""
        return "overdue" if self.is_overdue() else self.state


class LessonProgress(models.Model):
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="progress")
    lesson = models.ForeignKey(LessonPage, on_delete=models.CASCADE, related_name="+")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "lesson"], name="one_progress_a_lesson")
        ]

    def __str__(self):
        return f"{self.enrolment_id}/{self.lesson_id}"


class QuizAttempt(models.Model):
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="attempts")
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    # {question_id: [option ids in the order shown]}: the shuffle is fixed per attempt.
    option_order = models.JSONField(default=dict)
    # {question_id: [chosen option ids]}
    answers = models.JSONField(default=dict)
    score = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    passed = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "number"], name="one_attempt_a_number")
        ]

    def __str__(self):
        return f"{self.enrolment} #{self.number}"


class Completion(models.Model):
    """A finished enrolment; made once, and only then is ``course_completed`` sent."""

    enrolment = models.OneToOneField(Enrolment, on_delete=models.CASCADE, related_name="completion")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(CoursePage, on_delete=models.CASCADE, related_name="completions")
    library = models.ForeignKey(MemberLibrary, on_delete=models.CASCADE, related_name="+")
    completed_at = models.DateTimeField(default=timezone.now)
    score = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    statement = models.JSONField(default=dict)

    def __str__(self):
        return f"{self.enrolment}: {self.completed_at:%Y-%m-%d}"


class Certificate(models.Model):
    completion = models.OneToOneField(
        Completion, on_delete=models.CASCADE, related_name="certificate"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_certificates"
    )
    course = models.ForeignKey(CoursePage, on_delete=models.CASCADE, related_name="certificates")
    library = models.ForeignKey(MemberLibrary, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=19, unique=True, default=new_verification_code)
    # Frozen at issue so the certificate reads the same if the person or course is renamed.
    holder_name = models.CharField(max_length=255)
    course_title = models.CharField(max_length=255)
    library_name = models.CharField(max_length=200)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("certificate")

    def __str__(self):
        return self.code

    def status(self, now=None) -> str:
        """``revoked``, ``expired`` or ``genuine``."""
        now = now or timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        return "genuine"


class ReminderSent(models.Model):
    """What was already sent, so the periodic receiver never sends it twice."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", _("Due soon")
        OVERDUE = "overdue", _("Overdue")

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "kind"], name="one_reminder_a_kind")
        ]

    def __str__(self):
        return f"{self.enrolment_id}: {self.kind}"
