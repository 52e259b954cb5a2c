from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import access
from .exceptions import ActionRefused
from .forms import AppointForm
from .invitations import do_invite
from .models import Appointment, MemberLibrary, Membership
from .roles import role_name
from .selectors import people_of
from .services import (
    appointable_roles,
    do_accept_appointment,
    do_decline_appointment,
    do_remove_membership,
)


@login_required
def library_detail(request, code):
    """A member library's page for its own people: details, branding, who holds which role."""
    library = get_object_or_404(MemberLibrary, code=code)
    if not access.can(request.user, "portal.view_library", library):
        raise PermissionDenied
    return render(
        request,
        "members/library_detail.html",
        {
            "library": library,
            "people": people_of(library),
            "can_manage_people": access.can(request.user, "portal.manage_people", library),
        },
    )


def _library_for_people(request, code) -> MemberLibrary:
    library = get_object_or_404(MemberLibrary, code=code)
    if not access.can(request.user, "portal.manage_people", library):
        raise PermissionDenied
    return library


@login_required
def library_people(request, code):
    """A director's page for the library's people: who holds which role, appoint, remove."""
    library = _library_for_people(request, code)
    form = AppointForm(request.POST or None, actor=request.user, library=library)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation = do_invite(
                request.user, data["email"], data["full_name"], library, data["role"]
            )
        except ActionRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            if invitation.offered:
                messages.success(
                    request,
                    _("%(email)s already has an account: they have been asked to accept the role.")
                    % {"email": invitation.user.email},
                )
            elif invitation.sent:
                messages.success(
                    request,
                    _("%(email)s was appointed and invited by email.")
                    % {"email": invitation.user.email},
                )
            else:
                messages.success(
                    request, _("%(email)s was appointed.") % {"email": invitation.user.email}
                )
            return redirect("members:library_people", code=library.code)
    removable = appointable_roles(request.user, library)
    return render(
        request,
        "members/library_people.html",
        {
            "library": library,
            "people": people_of(library),
            "removable_roles": removable,
            "form": form,
            # Offers to people who already have an account, until they answer.
            "offers": Appointment.objects.filter(library=library, state=Appointment.State.PENDING)
            .select_related("user")
            .order_by("created_at"),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def remove_person(request, code, membership_id):
    library = _library_for_people(request, code)
    membership = get_object_or_404(
        Membership.objects.select_related("user", "library"), pk=membership_id, library=library
    )
    try:
        do_remove_membership(request.user, membership)
    except ActionRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            _("%(email)s is no longer %(role)s here.")
            % {"email": membership.user.email, "role": role_name(membership.role)},
        )
    return redirect("members:library_people", code=library.code)


# --- appointments offered to people who already have an account ----------------------------


@login_required
def appointments(request):
    """The roles a library has offered the signed-in person, to accept or decline."""
    pending = (
        Appointment.objects.filter(user=request.user, state=Appointment.State.PENDING)
        .select_related("library", "offered_by")
        .order_by("created_at")
    )
    return render(request, "members/appointments.html", {"appointments": pending})


@login_required
@require_POST
def answer_appointment(request, pk, answer):
    appointment = get_object_or_404(
        Appointment, pk=pk, user=request.user, state=Appointment.State.PENDING
    )
    if answer not in ("accept", "decline"):
        raise Http404
    try:
        if answer == "accept":
            do_accept_appointment(request.user, appointment)
        else:
            do_decline_appointment(request.user, appointment)
    except ActionRefused as refusal:
        messages.error(request, refusal.message)
    else:
        done = {
            "accept": _("You are now %(role)s at %(library)s."),
            "decline": _("You declined to be %(role)s at %(library)s."),
        }[answer]
        messages.success(
            request,
            done % {"role": role_name(appointment.role), "library": appointment.library.name},
        )
    return redirect("members:appointments")
