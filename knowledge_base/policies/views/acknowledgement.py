"""Acknowledging a policy, by a click or by passing its quiz, and what waits for mine."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import selectors
from ..models import Acknowledgement
from ..services.acknowledgement import check_acknowledge, check_acknowledge_by_quiz, do_acknowledge
from .common import live_policy, require_reader


def _posted_number(request) -> int | None:
    number = request.POST.get("version", "")
    return int(number) if number.isdigit() else None


@login_required
@require_POST
def acknowledge(request, code):
    page = live_policy(code)
    try:
        shown, library = check_acknowledge(request.user, page, _posted_number(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("policies:detail", code)
    do_acknowledge(request.user, shown, library)
    messages.success(
        request,
        _("You acknowledged %(code)s version %(n)s.") % {"code": page.code, "n": shown.number},
    )
    return redirect("policies:detail", code)


@login_required
@require_POST
def acknowledge_by_quiz(request, code):
    """Answers to the policy's quiz: passing it is the acknowledgement of the current version."""
    page = live_policy(code)
    answers = {
        key[len("q-") :]: request.POST.getlist(key)
        for key in request.POST
        if key.startswith("q-") and key[len("q-") :].isdigit()
    }
    try:
        shown, library, score, passed = check_acknowledge_by_quiz(
            request.user, page, _posted_number(request), answers
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("policies:detail", code)
    if not passed:
        messages.error(
            request,
            _("You scored %(score)s%%: not enough to pass. Read the policy again and retry.")
            % {"score": score},
        )
        return redirect("policies:detail", code)
    do_acknowledge(request.user, shown, library, method=Acknowledgement.Method.QUIZ, score=score)
    messages.success(
        request,
        _("You passed the quiz and acknowledged %(code)s version %(n)s.")
        % {"code": page.code, "n": shown.number},
    )
    return redirect("policies:detail", code)


@login_required
def mine(request):
    """Policies waiting for my acknowledgement."""
    require_reader(request)
    return render(
        request,
        "policies/mine.html",
        {"outstanding": selectors.outstanding_for(request.user)},
    )
