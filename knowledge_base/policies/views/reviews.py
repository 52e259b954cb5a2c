"""Reviews: the policies past their review date, and marking one reviewed."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import selectors
from ..services.reviews import check_mark_reviewed, do_mark_reviewed
from .common import live_policy, require_reader


@login_required
def reviews(request):
    """Policies past their review date: the owner's own, or all for the office."""
    require_reader(request)
    return render(
        request,
        "policies/reviews.html",
        {"overdue": selectors.overdue_reviews(request.user), "today": timezone.localdate()},
    )


@login_required
@require_POST
def mark_reviewed(request, code):
    page = live_policy(code)
    check_mark_reviewed(request.user, page)
    next_date = do_mark_reviewed(request.user, page)
    messages.success(request, _("Reviewed. Next review: %(date)s.") % {"date": next_date})
    return redirect("policies:reviews")
