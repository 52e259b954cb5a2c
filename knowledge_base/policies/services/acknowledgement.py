"""Acknowledging a version: by a click, or by passing the quiz a campaign names."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record_on_commit
from portal.members.models import MemberLibrary

from ..models import (
    Acknowledgement,
    PolicyPage,
    PolicyVersion,
)
from ..selectors import (
    current_version,
    outstanding_for,
    reading_quiz,
)


class QuizRequired(ValidationError):
    """This person acknowledges by passing the quiz, not with a click."""


def acknowledging_library(user) -> MemberLibrary:
    """The first of the person's libraries where they may acknowledge policies."""
    libraries = [
        m.library
        for m in access.memberships_of(user)
        if access.can(user, "policies.acknowledge_policy", m.library)
    ]
    if not libraries:
        raise PermissionDenied
    return libraries[0]


def required_quiz(user, page: PolicyPage, library: MemberLibrary):
    """The quiz this person must pass to acknowledge ``page``, or None (a click will do):
    their open campaign names a quiz and a plugin enabled for their library offers it."""
    outstanding = outstanding_for(user, [page.pk])
    if not outstanding or not outstanding[0].campaign.quiz_key:
        return None
    return reading_quiz(outstanding[0].campaign.quiz_key, library, user)


def _current(page: PolicyPage, number: int | None) -> PolicyVersion:
    version = current_version(page)
    if version is None:
        raise ValidationError(_("This policy has no published version yet."))
    if number is not None and number != version.number:
        # What they read is no longer current: they read (and answer for) the new one first.
        raise ValidationError(_("A new version was published while you were reading."))
    return version


def check_acknowledge(
    user, page: PolicyPage, number: int | None = None
) -> tuple[PolicyVersion, MemberLibrary]:
    """The current version and the library the person acknowledges for, by a click.

    Refused with :class:`QuizRequired` where the person must pass a quiz instead.
    """
    version = _current(page, number)
    library = acknowledging_library(user)
    if required_quiz(user, page, library) is not None:
        raise QuizRequired(_("Acknowledge this policy by passing its quiz."))
    return version, library


def check_acknowledge_by_quiz(user, page: PolicyPage, number: int | None, answers: dict):
    """Grade the person's answers; returns (version, library, score, passed).

    The version is the current one, and only if it is the one they answered for.
    """
    version = _current(page, number)
    library = acknowledging_library(user)
    quiz = required_quiz(user, page, library)
    if quiz is None:
        raise ValidationError(_("No quiz is asked of you for this policy."))
    score, passed = quiz.grade(user, answers)
    return version, library, score, passed


def do_acknowledge(
    user,
    version: PolicyVersion,
    library: MemberLibrary,
    *,
    method: str = Acknowledgement.Method.CLICK,
    score=None,
) -> Acknowledgement:
    """Record that ``user`` read ``version``; once per person and version, audited."""
    try:
        with transaction.atomic():
            ack = Acknowledgement.objects.create(
                user=user,
                policy_id=version.policy_id,
                version=version,
                library=library,
                method=method,
                score=score,
            )
    except IntegrityError:
        return Acknowledgement.objects.get(user=user, version=version)
    data = {"code": version.code, "version": version.number}
    if method != Acknowledgement.Method.CLICK:
        data.update(method=str(method), score=str(score))
    record_on_commit("policy.acknowledged", actor=user, library=library, obj=ack, data=data)
    return ack
