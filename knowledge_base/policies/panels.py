from django.utils.translation import gettext_lazy as _

from portal import access
from portal.home.panels import DashboardPanel

from . import selectors


def dashboard_panel(request, libraries):
    """Policies waiting for the person's acknowledgement, and overdue reviews for owners."""
    user = request.user
    # The dashboard gives the office only its consortium libraries: when it holds other
    # memberships too, the selector reads the switches for all of them itself.
    office = access.is_consortium_admin(user)
    if not office or all(m.library.is_consortium for m in access.memberships_of(user)):
        known = libraries
    else:
        known = None
    return DashboardPanel(
        title=_("Policies to acknowledge"),
        template_name="policies/panel.html",
        context={
            "libraries": libraries,
            "outstanding": selectors.outstanding_for(user, libraries=known),
            "overdue": selectors.overdue_reviews(user),
        },
        permission="policies.view_policies",
    )
