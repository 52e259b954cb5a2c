"""The quiz that ends a course: attempts with their own option order, and marking them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit import services as audit

from ..models import Completion, CoursePage, Enrolment, Quiz, QuizAttempt
from ..rules import TAKE, AttemptsExhausted, TrainingError
from ..selectors import attempts_left, current_enrolment, quiz_of
from .completion import maybe_complete
from .enrolment import locked


def check_start_attempt(user, course: CoursePage) -> tuple[Enrolment, Quiz]:
    enrolment = current_enrolment(user, course)
    if enrolment is None or not access.can(user, TAKE, enrolment.library):
        raise PermissionDenied
    quiz = quiz_of(course)
    if quiz is None:
        raise TrainingError(_("This course has no quiz."))
    if enrolment.state == Enrolment.State.COMPLETED:
        raise TrainingError(_("You have completed this course."))
    return enrolment, quiz


def do_start_attempt(enrolment: Enrolment, quiz: Quiz, rng: random.Random | None = None):
    """The open attempt, or a new one with its own option order while attempts remain."""
    with transaction.atomic():
        enrolment = locked(enrolment)
        attempt = QuizAttempt.objects.filter(
            enrolment=enrolment, quiz=quiz, submitted_at__isnull=True
        ).first()
        if attempt:
            return attempt
        if attempts_left(enrolment, quiz) == 0:
            raise AttemptsExhausted(_("You have used every attempt at this quiz."))
        rng = rng or random.SystemRandom()
        order = {}
        for question in quiz.questions.prefetch_related("options"):
            ids = [o.pk for o in question.options.all()]
            if quiz.shuffle:
                rng.shuffle(ids)
            order[str(question.pk)] = ids
        number = QuizAttempt.objects.filter(enrolment=enrolment, quiz=quiz).count() + 1
        return QuizAttempt.objects.create(
            enrolment=enrolment, quiz=quiz, number=number, option_order=order
        )


@dataclass
class QuestionResult:
    question: object
    chosen: list
    right: bool
    feedback: list[tuple[object, bool]]  # (option chosen, whether it was correct)
    correct_options: list = field(default_factory=list)


@dataclass
class AttemptResult:
    attempt: QuizAttempt
    questions: list[QuestionResult]
    completion: Completion | None = None

    @property
    def passed(self) -> bool:
        return self.attempt.passed


def check_submit_attempt(user, attempt_id: int, answers: dict[str, list[int]]) -> QuizAttempt:
    attempt = QuizAttempt.objects.select_related("enrolment", "quiz").filter(pk=attempt_id).first()
    if attempt is None or attempt.enrolment.user_id != user.pk:
        raise PermissionDenied
    if not attempt.enrolment.current or not access.can(user, TAKE, attempt.enrolment.library):
        raise PermissionDenied
    if attempt.submitted_at is not None:
        raise TrainingError(_("This attempt was already submitted."))
    for question_id, chosen in answers.items():
        allowed = set(attempt.option_order.get(str(question_id), []))
        if not set(chosen) <= allowed:
            raise TrainingError(_("An answer does not belong to this quiz."))
    return attempt


def do_submit_attempt(attempt: QuizAttempt, answers: dict[str, list[int]]) -> AttemptResult:
    """Mark the attempt: a question is right when exactly its correct options are chosen."""
    with transaction.atomic():
        enrolment = locked(attempt.enrolment)
        attempt = QuizAttempt.objects.select_for_update().get(pk=attempt.pk)
        if attempt.submitted_at is not None:
            raise TrainingError(_("This attempt was already submitted."))
        questions = list(attempt.quiz.questions.prefetch_related("options"))
        results, right = [], 0
        stored = {}
        for question in questions:
            options = {o.pk: o for o in question.options.all()}
            chosen_ids = [int(i) for i in answers.get(str(question.pk), []) if int(i) in options]
            if question.kind == question.Kind.SINGLE:
                chosen_ids = chosen_ids[:1]
            stored[str(question.pk)] = chosen_ids
            correct = {pk for pk, o in options.items() if o.correct}
            is_right = set(chosen_ids) == correct
            right += is_right
            results.append(
                QuestionResult(
                    question=question,
                    chosen=[options[i] for i in chosen_ids],
                    right=is_right,
                    feedback=[(options[i], options[i].correct) for i in chosen_ids],
                    correct_options=[options[i] for i in sorted(correct)],
                )
            )
        total = len(questions) or 1
        score = (Decimal(right * 100) / Decimal(total)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        attempt.answers = stored
        attempt.score = score
        attempt.passed = score >= attempt.quiz.pass_mark
        attempt.submitted_at = timezone.now()
        attempt.save(update_fields=["answers", "score", "passed", "submitted_at"])
        if enrolment.state == Enrolment.State.ENROLLED:
            enrolment.state = Enrolment.State.IN_PROGRESS
            enrolment.save(update_fields=["state"])
        audit.record_on_commit(
            "training.quiz_submitted",
            actor=enrolment.user,
            library=enrolment.library,
            obj=attempt,
            data={"score": str(score), "passed": attempt.passed, "number": attempt.number},
        )
        completion = maybe_complete(enrolment) if attempt.passed else None
    return AttemptResult(attempt=attempt, questions=results, completion=completion)
