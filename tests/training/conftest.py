import pytest
from wagtail.models import Site

from knowledge_base.training.models import CoursePage, LessonPage, Option, Question, Quiz
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa


def make_course(title="Patron privacy", lessons=2, recertify_months=None, max_attempts=3):
    """A live course of ``lessons`` lessons and a two-question quiz (pass mark 100%)."""
    root = Site.objects.get(is_default_site=True).root_page
    course = CoursePage(
        title=title,
        slug=title.lower().replace(" ", "-"),
        audience="All staff",
        estimated_minutes=20,
        recertify_months=recertify_months,
    )
    root.add_child(instance=course)
    for n in range(1, lessons + 1):
        course.add_child(
            instance=LessonPage(
                title=f"Lesson {n}",
                slug=f"lesson-{n}",
                body=[
                    {"type": "text", "value": f"<p>Part {n} of the law.</p>"},
                    {"type": "callout", "value": {"kind": "law", "text": "<p>Keep it.</p>"}},
                ],
            )
        )
    quiz = Quiz.objects.create(course=course, pass_mark=100, max_attempts=max_attempts)
    q1 = Question.objects.create(quiz=quiz, text="Who may see a patron's loans?", sort_order=0)
    Option.objects.create(question=q1, text="The patron", correct=True, feedback="Yes.")
    Option.objects.create(question=q1, text="Anyone who asks", feedback="Never.")
    Option.objects.create(
        question=q1, text="The police, by phone", feedback="Not without an order."
    )
    q2 = Question.objects.create(
        quiz=quiz, text="Which are personal data?", kind=Question.Kind.MULTIPLE, sort_order=1
    )
    Option.objects.create(question=q2, text="Name", correct=True)
    Option.objects.create(question=q2, text="Loan history", correct=True)
    Option.objects.create(question=q2, text="Opening hours", feedback="That is public.")
    return course


def right_answers(quiz):
    return {
        str(q.pk): [o.pk for o in q.options.all() if o.correct]
        for q in quiz.questions.prefetch_related("options")
    }


def wrong_answers(quiz):
    return {
        str(q.pk): [o.pk for o in q.options.all() if not o.correct][:1]
        for q in quiz.questions.prefetch_related("options")
    }


@pytest.fixture
def course(db):
    return make_course()


@pytest.fixture
def world(db):
    """Consortium -> 2 systems -> 2 branches; a director, staff and the office."""
    tree = factories.tree(systems=2, branches=2)
    system_a, system_b = tree["systems"]
    branch_a1 = tree["branches"][0]
    branch_b1 = tree["branches"][2]
    return {
        **tree,
        "system_a": system_a,
        "system_b": system_b,
        "branch_a1": branch_a1,
        "branch_b1": branch_b1,
        "staff_a": factories.member(branch_a1, STAFF, full_name="Ada Staff"),
        "staff_b": factories.member(branch_b1, STAFF, full_name="Bea Other"),
        "director_a": with_mfa(factories.member(system_a, DIRECTOR, full_name="Dee Director")),
        "office": with_mfa(
            factories.member(tree["root"], CONSORTIUM_ADMIN, full_name="Olu Office")
        ),
    }
