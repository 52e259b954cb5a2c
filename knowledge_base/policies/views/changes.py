"""A proposed change: the draft against the current text, and directors' comments."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.utils.translation import gettext as _

from portal import access

from .. import selectors
from ..blocks import body_lines
from ..models import PolicyChange
from ..services.adoption import check_draft_comment, do_draft_comment
from .common import require_reader


@login_required
def change(request, pk):
    """A proposed change: the draft against the current text, and directors' comments."""
    require_reader(request)
    item = get_object_or_404(PolicyChange.objects.select_related("policy", "revision"), pk=pk)
    commenting = [
        m.library
        for m in access.memberships_of(request.user)
        if access.can(request.user, "policies.comment_on_drafts", m.library)
    ]
    if not commenting and not selectors.may_manage(request.user):
        raise PermissionDenied
    if request.method == "POST":
        library = next((lib for lib in commenting if lib.code == request.POST.get("library")), None)
        if library is None:
            raise PermissionDenied
        try:
            check_draft_comment(request.user, item, library, request.POST.get("text", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            do_draft_comment(request.user, item, library, request.POST["text"])
            messages.success(request, _("Thank you: your comment was recorded."))
        return redirect("policies:change", pk)
    draft = item.draft
    current = selectors.current_version(item.policy)
    draft_text = f"{draft.title}\n" + "\n".join(body_lines(draft.body))
    current_text = f"{current.title}\n{current.text}" if current else ""
    return render(
        request,
        "policies/change.html",
        {
            "item": item,
            "draft": draft,
            "current": current,
            "lines": selectors.diff_lines(current_text, draft_text),
            "comments": item.comments.select_related("author", "library"),
            "commenting": commenting,
            "slug": slugify(item.policy.code),
        },
    )
