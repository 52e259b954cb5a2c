"""Assigning a course to roles and libraries."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from portal import access

from ..forms import AssignForm
from ..models import CoursePage
from ..rules import ASSIGN, TrainingError
from ..services.assignment import AssignmentRequest, check_assign, do_assign


@login_required
def assign(request, course_id: int):
    course = get_object_or_404(CoursePage, pk=course_id)
    allowed = access.libraries_for(request.user, ASSIGN)
    if not allowed.exists():
        raise PermissionDenied
    form = AssignForm(request.POST or None, libraries=allowed)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        assignment = AssignmentRequest(
            course=course,
            library=data["library"],
            roles=data["roles"],
            libraries=list(data["libraries"]),
            due_on=data["due_on"],
            days_to_complete=data["days_to_complete"],
        )
        try:
            check_assign(request.user, assignment)
        except TrainingError as exc:
            form.add_error(None, str(exc))
        else:
            do_assign(request.user, assignment)
            messages.success(request, _("The course was assigned."))
            return redirect(course.url)
    return render(
        request,
        "training/assign.html",
        {"course": course, "form": form},
        status=400 if form.errors else 200,
    )
