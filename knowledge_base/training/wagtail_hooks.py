"""Wagtail: courses and lessons served by the portal's views; quizzes, questions,
assignments and certificates as snippets in the admin."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from .models import Assignment, Certificate, CoursePage, LessonPage, Question, Quiz
from .views import courses


# After Wagtail's own view restrictions (order 0), which stay outside this wrapper.
@hooks.register("on_serve_page", order=10)
def serve_courses_and_lessons(serve_page):
    """A course or lesson reached through the page tree is the person's own: their
    enrolment, progress and what they may do. The editor's preview renders the page's
    own context (``get_context``) and does not come here."""

    def serve(page, request, args, kwargs):
        if isinstance(page, CoursePage):
            return courses.serve_course(request, page)
        if isinstance(page, LessonPage):
            return courses.serve_lesson(request, page)
        return serve_page(page, request, args, kwargs)

    return serve


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
