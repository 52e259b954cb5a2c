"""Completion rules, attempts, certificates, re-certification."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from knowledge_base.training.models import Certificate, Completion, Enrolment, QuizAttempt
from knowledge_base.training.rules import AttemptsExhausted, TrainingError
from knowledge_base.training.selectors import current_enrolment, quiz_of, resume_target
from knowledge_base.training.services.completion import maybe_complete
from knowledge_base.training.services.enrolment import check_enrol, do_enrol
from knowledge_base.training.services.progress import do_mark_lesson_done
from knowledge_base.training.services.quizzes import (
    check_submit_attempt,
    do_start_attempt,
    do_submit_attempt,
)
from knowledge_base.training.services.recertification import do_recertify
from portal.audit.models import AuditEntry
from portal.signals import course_completed

from .conftest import make_course, right_answers, wrong_answers

pytestmark = pytest.mark.django_db


def enrol(user, course):
    library = check_enrol(user, course)
    return do_enrol(user, course, library)


def take_quiz(enrolment, answers_of):
    quiz = quiz_of(enrolment.course)
    attempt = do_start_attempt(enrolment, quiz)
    answers = answers_of(quiz)
    check_submit_attempt(enrolment.user, attempt.pk, answers)
    return do_submit_attempt(attempt, answers)


def finish_lessons(enrolment):
    for lesson in enrolment.course.lessons():
        do_mark_lesson_done(enrolment, lesson)


@pytest.fixture
def received():
    calls = []

    def receiver(sender, **kwargs):
        calls.append((sender, kwargs))

    course_completed.connect(receiver, dispatch_uid="test.training.completed")
    yield calls
    course_completed.disconnect(dispatch_uid="test.training.completed")


def test_passing_the_quiz_alone_does_not_complete(world, course):
    enrolment = enrol(world["staff_a"], course)
    first = course.lessons().first()
    do_mark_lesson_done(enrolment, first)
    result = take_quiz(enrolment, right_answers)
    assert result.passed and result.completion is None
    enrolment.refresh_from_db()
    assert enrolment.state == Enrolment.State.IN_PROGRESS
    assert not Completion.objects.exists()


def test_all_lessons_without_passing_does_not_complete(world, course):
    enrolment = enrol(world["staff_a"], course)
    finish_lessons(enrolment)
    result = take_quiz(enrolment, wrong_answers)
    assert not result.passed
    assert result.attempt.score == 0
    assert not Completion.objects.exists()


def test_lessons_and_pass_mark_complete_once_with_signal_and_statement(
    world, course, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enrolment = enrol(world["staff_a"], course)
        finish_lessons(enrolment)
        take_quiz(enrolment, wrong_answers)
        result = take_quiz(enrolment, right_answers)
    assert result.completion is not None
    enrolment.refresh_from_db()
    assert enrolment.state == Enrolment.State.COMPLETED
    # Doing a lesson again afterwards completes nothing twice.
    with django_capture_on_commit_callbacks(execute=True):
        do_mark_lesson_done(enrolment, course.lessons().first())
        assert maybe_complete(enrolment) is None
    assert Completion.objects.count() == 1
    assert len(received) == 1
    sender, kwargs = received[0]
    assert sender == enrolment.library and kwargs["user"] == world["staff_a"]
    entry = AuditEntry.objects.get(action="training.course_completed")
    statement = entry.data["statement"]
    assert statement["actor"]["mbox"] == f"mailto:{world['staff_a'].email}"
    assert statement["verb"]["id"].endswith("/completed")
    assert statement["object"]["definition"]["name"]["en"] == course.title
    certificate = Certificate.objects.get()
    assert certificate.holder_name == "Ada Staff" and certificate.status() == "genuine"


def test_feedback_per_answer(world, course):
    enrolment = enrol(world["staff_a"], course)
    result = take_quiz(enrolment, wrong_answers)
    first = result.questions[0]
    assert not first.right
    option, correct = first.feedback[0]
    assert correct is False and option.feedback == "Never."


def test_attempts_limit(world):
    course = make_course(max_attempts=2)
    enrolment = enrol(world["staff_a"], course)
    take_quiz(enrolment, wrong_answers)
    take_quiz(enrolment, wrong_answers)
    with pytest.raises(AttemptsExhausted):
        do_start_attempt(enrolment, quiz_of(course))
    assert QuizAttempt.objects.filter(enrolment=enrolment).count() == 2


def test_submitted_attempt_cannot_be_resubmitted_and_answers_must_belong(world, course):
    enrolment = enrol(world["staff_a"], course)
    quiz = quiz_of(course)
    attempt = do_start_attempt(enrolment, quiz)
    with pytest.raises(TrainingError):
        check_submit_attempt(world["staff_a"], attempt.pk, {"1": [999999]})
    with pytest.raises(PermissionDenied):
        check_submit_attempt(world["staff_b"], attempt.pk, {})
    do_submit_attempt(attempt, right_answers(quiz))
    with pytest.raises(TrainingError):
        check_submit_attempt(world["staff_a"], attempt.pk, right_answers(quiz))


def test_shuffled_order_is_fixed_per_attempt(world, course):
    import random

    enrolment = enrol(world["staff_a"], course)
    quiz = quiz_of(course)
    attempt = do_start_attempt(enrolment, quiz, rng=random.Random(3))
    again = do_start_attempt(enrolment, quiz, rng=random.Random(99))
    assert again.pk == attempt.pk and again.option_order == attempt.option_order
    for question in quiz.questions.all():
        shown = attempt.option_order[str(question.pk)]
        assert sorted(shown) == sorted(o.pk for o in question.options.all())


def test_resume_where_left_off(world, course):
    enrolment = enrol(world["staff_a"], course)
    lessons = list(course.lessons())
    assert resume_target(enrolment, lessons) == lessons[0]
    do_mark_lesson_done(enrolment, lessons[0])
    assert resume_target(enrolment, lessons) == lessons[1]


def test_prerequisites_must_be_completed(world, course):
    advanced = make_course("Advanced privacy")
    advanced.prerequisites.set([course])
    advanced.save()
    with pytest.raises(TrainingError):
        check_enrol(world["staff_a"], advanced)


def complete(user, course):
    enrolment = enrol(user, course) if not current_enrolment(user, course) else None
    enrolment = enrolment or current_enrolment(user, course)
    finish_lessons(enrolment)
    take_quiz(enrolment, right_answers)
    enrolment.refresh_from_db()
    return enrolment


def test_recertification_reassigns_and_expires_the_old_certificate(world):
    course = make_course("Privacy yearly", recertify_months=12)
    first = complete(world["staff_a"], course)
    old = first.completion.certificate
    assert old.expires_at is not None
    # Nothing happens while the certificate has long to run.
    assert do_recertify(timezone.now()) == []
    later = old.expires_at - timedelta(days=10)
    opened = do_recertify(later)
    assert len(opened) == 1
    assert do_recertify(later) == []  # idempotent
    first.refresh_from_db()
    assert not first.current
    new = current_enrolment(world["staff_a"], course)
    assert new.cycle == 2 and new.due == timezone.localdate(old.expires_at)
    assert new.state == Enrolment.State.ENROLLED
    # Passing again issues a new certificate and the old one expires at once.
    complete(world["staff_a"], course)
    old.refresh_from_db()
    assert old.status() == "expired"
    assert Certificate.objects.filter(user=world["staff_a"], course=course).count() == 2
    assert Certificate.objects.order_by("-issued_at").first().status() == "genuine"


def test_old_certificate_expires_on_its_date_if_not_renewed(world):
    course = make_course("Privacy yearly", recertify_months=12)
    certificate = complete(world["staff_a"], course).completion.certificate
    assert certificate.status(certificate.expires_at + timedelta(seconds=1)) == "expired"
