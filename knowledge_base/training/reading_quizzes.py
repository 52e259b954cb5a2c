"""A course's quiz offered as a reading check through the core's ``reading_quiz`` signals.

Another plugin (shared policies, say) may ask a person to pass one of these quizzes instead
of clicking "I have read it". This module only answers the core signals: it never imports
that plugin, and where training is switched off for a library nobody gets an answer here.
Passing a reading check does not enrol anyone or complete a course.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.dispatch import receiver

from portal.audit.services import record_on_commit
from portal.signals import reading_quiz, reading_quizzes

from .models import Question, Quiz

PREFIX = "training.quiz:"


@dataclass
class ReadingQuiz:
    quiz: Quiz
    title: str
    pass_mark: int
    questions: list[dict] = field(default_factory=list)

    def grade(self, user, answers: dict) -> tuple[Decimal, bool]:
        """The course quiz's rule: a question is right when exactly its correct options are
        chosen; passed at ``pass_mark`` per cent."""
        right = 0
        for question in self.questions:
            chosen = {int(i) for i in answers.get(str(question["id"]), [])}
            right += chosen == question["correct"]
        total = len(self.questions) or 1
        score = (Decimal(right * 100) / Decimal(total)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        passed = bool(self.questions) and score >= self.pass_mark
        record_on_commit(
            "training.reading_quiz_graded",
            actor=user,
            obj=self.quiz,
            data={"score": str(score), "passed": passed},
        )
        return score, passed


def _quizzes():
    return Quiz.objects.filter(course__live=True).select_related("course")


@receiver(reading_quizzes, dispatch_uid="training.reading_quizzes")
def offer_reading_quizzes(sender, **kwargs):
    return [(f"{PREFIX}{quiz.pk}", str(quiz)) for quiz in _quizzes().order_by("course__title")]


@receiver(reading_quiz, dispatch_uid="training.reading_quiz")
def reading_quiz_for(sender, key="", user=None, **kwargs):
    if not key.startswith(PREFIX) or not key[len(PREFIX) :].isdigit():
        return None
    quiz = _quizzes().filter(pk=int(key[len(PREFIX) :])).first()
    if quiz is None:
        return None
    questions = []
    for question in Question.objects.filter(quiz=quiz).prefetch_related("options"):
        options = list(question.options.all())
        questions.append(
            {
                "id": question.pk,
                "text": question.text,
                "multiple": question.kind == Question.Kind.MULTIPLE,
                "options": [{"id": o.pk, "text": o.text} for o in options],
                "correct": {o.pk for o in options if o.correct},
            }
        )
    return ReadingQuiz(quiz, quiz.title, quiz.pass_mark, questions)
