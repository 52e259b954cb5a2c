"""A library's own procedure for a shared policy, written by its director."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from portal import access
from portal.members.models import MemberLibrary

from ..services.procedures import check_local_procedure, do_save_local_procedure
from .common import live_policy


@login_required
def local_procedure(request, code, library_code):
    """A library's own procedure for a shared policy: written by its director."""
    page = live_policy(code)
    library = get_object_or_404(MemberLibrary, code=library_code)
    existing = page.local_procedures.filter(library=library).first()
    text = request.POST.get("text", existing.text if existing else "")
    if request.method == "POST":
        check_local_procedure(request.user, page, library, text)
        do_save_local_procedure(request.user, page, library, text)
        messages.success(request, _("The local procedure was saved."))
        return redirect("policies:detail", code)
    if not access.can(request.user, "policies.add_local_procedure", library):
        raise PermissionDenied
    return render(
        request,
        "policies/procedure_form.html",
        {"page": page, "library": library, "text": text},
    )
