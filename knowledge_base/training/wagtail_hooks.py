"""Wagtail admin: quizzes, questions, assignments and certificates as snippets."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from .models import Assignment, Certificate, Question, Quiz


class QuizViewSet(SnippetViewSet):
    model = Quiz
    icon = "tasks"
    list_display = ["__str__", "pass_mark", "max_attempts", "shuffle"]


class QuestionViewSet(SnippetViewSet):
    model = Question
    icon = "help"
    list_display = ["text", "quiz", "kind"]
    list_filter = ["quiz"]


class AssignmentViewSet(SnippetViewSet):
    model = Assignment
    icon = "group"
    list_display = ["course", "library", "due_on", "active", "created_at"]
    panels = [
        FieldPanel("course"),
        FieldPanel("library"),
        FieldPanel("roles"),
        FieldPanel("libraries"),
        FieldPanel("people"),
        FieldPanel("due_on"),
        FieldPanel("days_to_complete"),
        FieldPanel("active"),
    ]


class CertificateViewSet(SnippetViewSet):
    model = Certificate
    icon = "doc-full"
    list_display = ["code", "holder_name", "course_title", "library_name", "issued_at"]
    search_fields = ["code", "holder_name", "course_title"]
    inspect_view_enabled = True
    panels = [FieldPanel("revoked_at"), FieldPanel("revoked_reason")]


class TrainingGroup(SnippetViewSetGroup):
    menu_label = _("Training")
    menu_icon = "tasks"
    items = (QuizViewSet, QuestionViewSet, AssignmentViewSet, CertificateViewSet)


register_snippet(TrainingGroup)
