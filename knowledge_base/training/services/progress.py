"""Taking the lessons: where the person is, and what they have done."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from portal import access
from portal.home.panels import panel_changed

from ..models import Completion, Enrolment, LessonPage, LessonProgress
from ..rules import TAKE
from ..selectors import current_enrolment, progress_on
from .completion import maybe_complete
from .enrolment import locked


def check_lesson(user, lesson: LessonPage) -> Enrolment:
    return check_taking(user, current_enrolment(user, lesson.course))


def check_taking(user, enrolment: Enrolment | None) -> Enrolment:
    """The rule of ``check_lesson`` for an enrolment already read (the lesson page keeps
    it between visits): there is one, and the person may take courses at its library."""
    if enrolment is None:
        raise PermissionDenied
    if not access.can(user, TAKE, enrolment.library):
        raise PermissionDenied
    return enrolment


def viewed_before(
    enrolment: Enrolment, lesson: LessonPage, progress: LessonProgress | None
) -> bool:
    """Whether reading the lesson again changes nothing: the person has seen it, it is
    the last one they read, and their course is under way."""
    return (
        progress is not None
        and enrolment.last_lesson_id == lesson.pk
        and enrolment.state != Enrolment.State.ENROLLED
    )


def do_view_lesson(enrolment: Enrolment, lesson: LessonPage) -> LessonProgress:
    """Remember where the person is, so they resume here."""
    progress = progress_on(enrolment, lesson)
    if viewed_before(enrolment, lesson, progress):
        return progress  # reading the same lesson again writes nothing (no transaction)
    with transaction.atomic():
        progress, _created = LessonProgress.objects.get_or_create(
            enrolment=enrolment, lesson=lesson
        )
        updates = {}
        if enrolment.last_lesson_id != lesson.pk:
            updates["last_lesson"] = lesson
        if enrolment.state == Enrolment.State.ENROLLED:
            updates["state"] = Enrolment.State.IN_PROGRESS
        # Reading the same lesson again writes nothing.
        if updates:
            Enrolment.objects.filter(pk=enrolment.pk).update(**updates)
            if "last_lesson" in updates:
                enrolment.last_lesson = lesson
            # update() sends no signal. The dashboard shows the course in progress, and
            # the lesson pages keep the person's enrolment (views.courses); the lessons'
            # text is unchanged.
            panel_changed("training", shared_parts=False)
    return progress


def do_mark_lesson_done(enrolment: Enrolment, lesson: LessonPage) -> Completion | None:
    with transaction.atomic():
        enrolment = locked(enrolment)
        progress, _created = LessonProgress.objects.get_or_create(
            enrolment=enrolment, lesson=lesson
        )
        if progress.completed_at is None:
            progress.completed_at = timezone.now()
            progress.save(update_fields=["completed_at"])
        if enrolment.state == Enrolment.State.ENROLLED:
            enrolment.state = Enrolment.State.IN_PROGRESS
            enrolment.save(update_fields=["state"])
        return maybe_complete(enrolment)
