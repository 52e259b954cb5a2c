"""Completing a course: once, when its rules are met, with an xAPI statement and a
certificate, and ``course_completed`` sent on commit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from portal.audit import services as audit
from portal.home.panels import panel_changed
from portal.signals import course_completed

from ..models import Completion, Enrolment, QuizAttempt
from ..selectors import lessons_done, quiz_of
from .certificates import do_issue_certificate


def completion_rules_met(enrolment: Enrolment) -> tuple[bool, Decimal | None]:
    """Every live lesson done and, when the course has a quiz, an attempt passed."""
    lesson_ids = set(enrolment.course.lessons().values_list("pk", flat=True))
    if not lesson_ids <= lessons_done(enrolment):
        return False, None
    quiz = quiz_of(enrolment.course)
    if quiz is None:
        return True, None
    best = (
        QuizAttempt.objects.filter(enrolment=enrolment, quiz=quiz, passed=True)
        .order_by("-score")
        .values_list("score", flat=True)
        .first()
    )
    return best is not None, best


def xapi_statement(completion: Completion, course_url: str = "") -> dict:
    """An xAPI-style statement, so a learning record store can be connected later."""
    user = completion.user
    statement = {
        "actor": {
            "objectType": "Agent",
            "name": user.full_name or user.email,
            "mbox": f"mailto:{user.email}",
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },
        "object": {
            "objectType": "Activity",
            "id": course_url or f"urn:concord:course:{completion.course_id}",
            "definition": {"name": {"en": completion.course.title}},
        },
        "result": {"completion": True, "success": True},
        "timestamp": completion.completed_at.isoformat(),
        "context": {"extensions": {"urn:concord:library": completion.library.code}},
    }
    if completion.score is not None:
        statement["result"]["score"] = {"scaled": float(completion.score) / 100}
    return statement


def maybe_complete(enrolment: Enrolment, now: datetime | None = None) -> Completion | None:
    """Complete the enrolment when its rules are met; only the first call does anything.

    The caller holds the enrolment's row lock (``_lock``) so two requests cannot both
    complete it.
    """
    if Completion.objects.filter(enrolment=enrolment).exists():
        return None
    met, score = completion_rules_met(enrolment)
    if not met:
        return None
    now = now or timezone.now()
    completion = Completion.objects.create(
        enrolment=enrolment,
        user=enrolment.user,
        course=enrolment.course,
        library=enrolment.library,
        completed_at=now,
        score=score,
    )
    completion.statement = xapi_statement(completion, enrolment.course.full_url or "")
    completion.save(update_fields=["statement"])
    Enrolment.objects.filter(pk=enrolment.pk).update(
        state=Enrolment.State.COMPLETED, completed_at=now
    )
    panel_changed("training", shared_parts=False)  # the course leaves the dashboard's list
    enrolment.state, enrolment.completed_at = Enrolment.State.COMPLETED, now
    do_issue_certificate(completion)
    audit.record_on_commit(
        "training.course_completed",
        actor=enrolment.user,
        library=enrolment.library,
        obj=completion,
        data={"statement": completion.statement},
    )
    library, user, course = enrolment.library, enrolment.user, enrolment.course
    transaction.on_commit(
        lambda: course_completed.send_robust(
            sender=library, user=user, course=course, completion=completion
        )
    )
    return completion
