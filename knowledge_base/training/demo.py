"""Demo courses for ``manage.py seed_demo`` (the plugin's ``demo_seeder``).

Two published courses with lessons and a quiz. The office assigns the privacy course to
every member's staff with a due date three weeks out; one system's director assigns the
circulation course to their own staff. Some people have started and some have finished,
through this plugin's services (lessons marked done, the quiz passed, a certificate
issued), so the dashboard, the reports and the certificates all have something to show.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from wagtail.models import Site

from portal.demo import DEMO_DOMAIN, OFFICE_EMAIL
from portal.members.models import MemberLibrary
from portal.members.roles import STAFF

from .models import CoursePage, Enrolment, LessonPage, Option, Question, Quiz
from .services.assignment import AssignmentRequest, check_assign, do_assign
from .services.progress import do_mark_lesson_done, do_view_lesson
from .services.quizzes import do_start_attempt, do_submit_attempt

# Enough finished and started to fill the reports, few enough to seed quickly at any size.
MAX_FINISHED = 40
MAX_STARTED = 40


def text(html: str) -> dict:
    return {"type": "text", "value": html}


def callout(html: str, kind: str = "tip") -> dict:
    return {"type": "callout", "value": {"kind": kind, "text": html}}


COURSES = [
    {
        "slug": "patron-privacy",
        "title": "Patron privacy and confidentiality",
        "description": "<p>What the law and our shared policy PRIV-001 say about patron "
        "records, and what to do when someone asks for them.</p>",
        "audience": "All member library staff",
        "estimated_minutes": 25,
        "recertify_months": 24,
        "lessons": [
            (
                "Why privacy matters in libraries",
                [
                    text(
                        "<p>People trust the library with what they read, watch and ask "
                        "about. That trust is why our records are kept to a minimum.</p>"
                    ),
                    callout(
                        "<p>Ohio Revised Code 149.432 makes library records confidential.</p>",
                        "law",
                    ),
                ],
            ),
            (
                "What we keep, and for how long",
                [
                    text(
                        "<p>We keep a patron's contact details and current loans. Loan "
                        "history is erased once an item is returned, unless the patron "
                        "chose to keep a reading history.</p>"
                    ),
                    callout("<p>Never write patron names on hold slips left in public.</p>"),
                ],
            ),
            (
                "When someone asks for a record",
                [
                    text(
                        "<p>Records go only to the patron, a parent of a child under 18, or "
                        "under a court order. Refer law enforcement to the director and do "
                        "not confirm whether someone is a patron.</p>"
                    ),
                    callout(
                        "<p>A phone call claiming to be the police is not a court order.</p>",
                        "important",
                    ),
                ],
            ),
        ],
        "questions": [
            (
                "A caller says they are a police officer and asks whether a person has a "
                "library card. What do you do?",
                "single",
                [
                    ("Refer them to the director without confirming anything", True),
                    ("Look the person up and tell them", False),
                    ("Confirm the card but give no loan details", False),
                ],
            ),
            (
                "Which of these are confidential library records?",
                "multiple",
                [
                    ("A patron's loan history", True),
                    ("The holds a patron has placed", True),
                    ("The library's opening hours", False),
                ],
            ),
            (
                "A mother asks what her 16-year-old has borrowed. May you tell her?",
                "single",
                [
                    ("Yes: a parent may see the records of a child under 18", True),
                    ("No: only the patron may ever see them", False),
                ],
            ),
        ],
    },
    {
        "slug": "shared-catalogue-circulation",
        "title": "Circulation in the shared catalogue",
        "description": "<p>Cards, loans, holds and the courier: the rules every member "
        "library shares (CIRC-001 to CIRC-003).</p>",
        "audience": "Circulation and front-desk staff",
        "estimated_minutes": 40,
        "recertify_months": None,
        "lessons": [
            (
                "Registering a patron",
                [
                    text(
                        "<p>Check photo identification and proof of address. A card from "
                        "any member library works at every member library.</p>"
                    )
                ],
            ),
            (
                "Loans and renewals",
                [
                    text(
                        "<p>Books go out for 21 days with three renewals; DVDs for 7 days "
                        "with two. Items with holds waiting cannot be renewed.</p>"
                    ),
                    callout("<p>Automatic renewal runs three days before the due date.</p>"),
                ],
            ),
            (
                "Holds and the courier",
                [
                    text(
                        "<p>Holds are filled from the nearest copy and travel by courier "
                        "within three working days. Items wait seven days for pickup.</p>"
                    )
                ],
            ),
        ],
        "questions": [
            (
                "How long do holds wait at the pickup library?",
                "single",
                [("Seven days", True), ("Three days", False), ("Until the patron comes", False)],
            ),
            (
                "Which items cannot be renewed?",
                "single",
                [
                    ("Items with holds waiting", True),
                    ("Items borrowed from another member library", False),
                ],
            ),
        ],
    },
]


def reset_demo() -> None:
    """Delete the demo's courses; their lessons, quizzes and enrolments go with them."""
    for course in CoursePage.objects.filter(slug__in=[c["slug"] for c in COURSES]):
        course.delete()


def seed(libraries: list[MemberLibrary], options: dict) -> dict[str, int]:
    reset_demo()
    rng = random.Random(options.get("seed", 0))
    User = get_user_model()
    office = User.objects.filter(email=OFFICE_EMAIL).first()
    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    if office is None or site is None or not libraries:
        return {"courses": 0}
    courses = [_course(site.root_page, data, office) for data in COURSES]
    privacy, circulation = courses
    today = timezone.localdate()

    root = libraries[0]
    request = AssignmentRequest(
        course=privacy, library=root, roles=[STAFF], due_on=today + timedelta(days=21)
    )
    do_assign(office, check_assign(office, request))

    # A system's director has their own staff take the circulation course.
    system = next((lib for lib in libraries if lib.kind == lib.Kind.SYSTEM), None)
    if system is not None:
        director = User.objects.filter(email=f"director.{system.code}@{DEMO_DOMAIN}").first()
        if director is not None:
            request = AssignmentRequest(
                course=circulation, library=system, roles=[STAFF], due_on=today + timedelta(days=10)
            )
            do_assign(director, check_assign(director, request))

    finished = started = 0
    enrolments = list(
        Enrolment.objects.filter(course__in=courses, current=True)
        .select_related("user", "course", "library")
        .order_by("pk")
    )
    rng.shuffle(enrolments)
    lessons = {course.pk: list(course.lessons()) for course in courses}
    quizzes = {quiz.course_id: quiz for quiz in Quiz.objects.filter(course__in=courses)}
    answers = {course_id: _right_answers(quiz) for course_id, quiz in quizzes.items()}
    for enrolment in enrolments:
        roll = rng.random()
        course_lessons = lessons[enrolment.course_id]
        if roll < 0.3 and finished < MAX_FINISHED:
            for lesson in course_lessons:
                do_mark_lesson_done(enrolment, lesson)
            attempt = do_start_attempt(enrolment, quizzes[enrolment.course_id], rng)
            do_submit_attempt(attempt, answers[enrolment.course_id])
            finished += 1
        elif roll < 0.55 and started < MAX_STARTED:
            done = course_lessons[: rng.randint(1, len(course_lessons) - 1)]
            for lesson in done:
                do_mark_lesson_done(enrolment, lesson)
            do_view_lesson(enrolment, course_lessons[len(done)])
            started += 1
    return {
        "courses": len(courses),
        "enrolments": len(enrolments),
        "courses completed": finished,
    }


def _course(parent, data: dict, office) -> CoursePage:
    course = CoursePage(
        title=data["title"],
        slug=data["slug"],
        description=data["description"],
        audience=data["audience"],
        estimated_minutes=data["estimated_minutes"],
        recertify_months=data["recertify_months"],
        owner=office,
    )
    parent.add_child(instance=course)
    course.save_revision(user=office).publish(user=office, skip_permission_checks=True)
    for title, body in data["lessons"]:
        lesson = LessonPage(title=title, body=body, owner=office)
        course.add_child(instance=lesson)
        lesson.save_revision(user=office).publish(user=office, skip_permission_checks=True)
    quiz = Quiz.objects.create(course=course, title="Final quiz", pass_mark=80, max_attempts=3)
    for n, (question_text, kind, options) in enumerate(data["questions"]):
        question = Question.objects.create(quiz=quiz, text=question_text, kind=kind, sort_order=n)
        Option.objects.bulk_create(
            [
                Option(question=question, text=label, correct=correct, sort_order=m)
                for m, (label, correct) in enumerate(options)
            ]
        )
    return CoursePage.objects.get(pk=course.pk)


def _right_answers(quiz: Quiz) -> dict[str, list[int]]:
    return {
        str(q.pk): [o.pk for o in q.options.all() if o.correct]
        for q in quiz.questions.prefetch_related("options")
    }
