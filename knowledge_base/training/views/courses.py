"""Taking a course: its page and lessons (served through Wagtail's page tree), enrolling,
marking lessons done, the quiz, the transcript, and a course's export."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import access
from portal.home.kept import kept_part, kept_value, read_ahead

from .. import exchange, selectors
from ..forms import QuizSubmitForm
from ..models import CoursePage, Enrolment, LessonPage, QuizAttempt
from ..rules import ASSIGN, MANAGE, AttemptsExhausted, TrainingError
from ..services.enrolment import check_enrol, do_enrol
from ..services.progress import (
    check_lesson,
    check_taking,
    do_mark_lesson_done,
    do_view_lesson,
    viewed_before,
)
from ..services.quizzes import (
    check_start_attempt,
    check_submit_attempt,
    do_start_attempt,
    do_submit_attempt,
)


def serve_course(request, course: CoursePage):
    """A course page, reached through Wagtail's page tree (``wagtail_hooks``)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    library = selectors.library_for_taking(request.user, course)
    manager = access.can_anywhere(request.user, MANAGE)
    if library is None and not manager:
        raise PermissionDenied
    context = course.get_context(request)
    lessons = [lesson for lesson, _done in context["lessons"]]
    enrolment = selectors.current_enrolment(request.user, course)
    done = selectors.lessons_done(enrolment) if enrolment else set()
    quiz = context["quiz"]
    context.update(
        lessons=[(lesson, lesson.pk in done) for lesson in lessons],
        enrolment=enrolment,
        resume=selectors.resume_target(enrolment, lessons) if enrolment else None,
        attempts_left=selectors.attempts_left(enrolment, quiz) if enrolment and quiz else None,
        certificate=getattr(getattr(enrolment, "completion", None), "certificate", None)
        if enrolment and enrolment.state == Enrolment.State.COMPLETED
        else None,
        can_assign=access.can_anywhere(request.user, ASSIGN),
        can_manage=manager,
    )
    return render(request, course.get_template(request), context)


def serve_lesson(request, lesson: LessonPage):
    """A lesson page, reached through Wagtail's page tree (``wagtail_hooks``)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    # What everyone reads alike of the lesson (below), in one round trip.
    read_ahead(
        request,
        "training",
        [
            *([] if "course" in lesson.__dict__ else [("course", False, (lesson.path,))]),
            ("lesson-text", False, (lesson.pk,)),
            ("lesson-pager", False, (lesson.pk,)),
            ("taking", True, (lesson.pk,)),
        ],
    )
    if "course" not in lesson.__dict__:
        # A lesson found directly (portal.home.routing) has not read its course: the course
        # is kept between visits as the lesson's text is (its page moves it on), by the
        # lesson's path, which changes when either moves. Reached through the course, the
        # lesson has it already, and keeps it for the next visit.
        lesson.__dict__["course"] = kept_value(
            "training", "course", lambda: lesson.get_parent().specific, vary=(lesson.path,)
        )
    # The person's enrolment in the course and progress on the lesson, kept between visits
    # as their dashboard panel is: enrolling, reading and finishing lessons move it on.
    # Whether they may take the course at the enrolment's library is decided here, anew.
    enrolment, progress = kept_value(
        "training",
        "taking",
        lambda: selectors.taking(request.user, lesson),
        vary=(lesson.pk,),
        request=request,
    )
    try:
        enrolment = check_taking(request.user, selectors.with_own_library(request.user, enrolment))
    except PermissionDenied:
        if access.can_anywhere(request.user, MANAGE):
            enrolment = None  # authors preview their lessons without enrolling
        else:
            messages.info(request, _("Enrol in the course to take its lessons."))
            return redirect(lesson.course.url)
    if enrolment is not None and not viewed_before(enrolment, lesson, progress):
        progress = do_view_lesson(enrolment, lesson)
    context = lesson.get_context(request, place=False)
    place = {}

    def part(template_name):
        def work_out():
            if not place:
                place.update(lesson.place_in_course())
            return render_to_string(template_name, {**context, **place}, request), None

        return work_out

    # The lesson as everyone reads it (its text, its place in the course) is kept between
    # visits (portal.home.kept); the person's part between the two is not.
    for name in ("text", "pager"):
        context[f"lesson_{name}"] = kept_part(
            request,
            "training",
            f"lesson-{name}",
            part(f"training/_lesson_{name}.html"),
            personal=False,
            vary=(lesson.pk,),
        )
    context.update(
        kept=True,  # the editor's preview renders the parts in place
        enrolment=enrolment,
        done=progress is not None and progress.completed_at is not None,
    )
    return render(request, lesson.get_template(request), context)


@login_required
@require_POST
def enrol(request, course_id: int):
    course = get_object_or_404(CoursePage, pk=course_id)
    try:
        library = check_enrol(request.user, course)
    except TrainingError as exc:
        messages.error(request, str(exc))
        return redirect(course.url)
    enrolment = do_enrol(request.user, course, library)
    lesson = selectors.resume_target(enrolment, list(course.lessons()))
    return redirect(lesson.url if lesson else course.url)


@login_required
@require_POST
def lesson_done(request, lesson_id: int):
    lesson = get_object_or_404(LessonPage, pk=lesson_id)
    enrolment = check_lesson(request.user, lesson)
    completion = do_mark_lesson_done(enrolment, lesson)
    course = enrolment.course
    if completion:
        messages.success(request, _("You have completed this course."))
        return redirect(course.url)
    lessons = list(course.lessons())
    following = [item for item in lessons if item.path > lesson.path]
    if following:
        return redirect(following[0].url)
    if selectors.quiz_of(course):
        return redirect("training:quiz", course_id=course.pk)
    return redirect(course.url)


@login_required
def quiz(request, course_id: int):
    course = get_object_or_404(CoursePage, pk=course_id)
    try:
        enrolment, the_quiz = check_start_attempt(request.user, course)
    except TrainingError as exc:
        messages.info(request, str(exc))
        return redirect(course.url)
    if request.method == "POST":
        form = QuizSubmitForm(request.POST)
        if not form.is_valid():
            raise Http404
        attempt = get_object_or_404(
            QuizAttempt, pk=form.cleaned_data["attempt"], enrolment=enrolment
        )
        answers = form.answers(attempt)
        try:
            check_submit_attempt(request.user, attempt.pk, answers)
            result = do_submit_attempt(attempt, answers)
        except TrainingError as exc:
            messages.error(request, str(exc))
            return redirect("training:quiz", course_id=course.pk)
        enrolment.refresh_from_db()
        return render(
            request,
            "training/quiz_result.html",
            {
                "course": course,
                "quiz": the_quiz,
                "result": result,
                "enrolment": enrolment,
                "attempts_left": selectors.attempts_left(enrolment, the_quiz),
                "lessons_left": selectors.resume_target(enrolment, list(course.lessons())),
            },
        )
    try:
        attempt = do_start_attempt(enrolment, the_quiz)
    except AttemptsExhausted as exc:
        messages.error(request, str(exc))
        return redirect(course.url)
    questions = list(the_quiz.questions.prefetch_related("options"))
    shown = []
    for question in questions:
        options = {o.pk: o for o in question.options.all()}
        order = attempt.option_order.get(str(question.pk), list(options))
        shown.append((question, [options[i] for i in order if i in options]))
    return render(
        request,
        "training/quiz.html",
        {
            "course": course,
            "quiz": the_quiz,
            "attempt": attempt,
            "questions": shown,
            "attempts_left": selectors.attempts_left(enrolment, the_quiz),
        },
    )


@login_required
def transcript(request):
    return render(request, "training/transcript.html", selectors.transcript(request.user))


@login_required
def export_course(request, course_id: int):
    if not access.can_anywhere(request.user, MANAGE):
        raise PermissionDenied
    course = get_object_or_404(CoursePage, pk=course_id)
    response = JsonResponse(
        exchange.export_course(course), json_dumps_params={"indent": 2, "ensure_ascii": False}
    )
    response["Content-Disposition"] = f'attachment; filename="course-{course.slug}.json"'
    return response
