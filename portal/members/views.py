from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render

from portal import access

from .models import MemberLibrary, Membership


@login_required
def library_detail(request, code):
    """A member library's page for its own people: details, branding, who holds which role."""
    library = get_object_or_404(MemberLibrary, code=code)
    if not access.can(request.user, "portal.view_library", library):
        raise PermissionDenied
    people = (
        Membership.objects.filter(library=library)
        .select_related("user")
        .order_by("role", "user__email")
    )
    return render(
        request,
        "members/library_detail.html",
        {
            "library": library,
            "people": people,
            "can_manage_people": access.can(request.user, "portal.manage_people", library),
        },
    )
