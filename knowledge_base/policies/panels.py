from django.utils.translation import gettext_lazy as _

from portal.home.panels import DashboardPanel

from . import selectors


def dashboard_panel(request, libraries):
    """Policies waiting for the person's acknowledgement, and overdue reviews for owners."""
    user = request.user
    return DashboardPanel(
        title=_("Policies to acknowledge"),
        template_name="policies/panel.html",
        context={
            "libraries": libraries,
            "outstanding": selectors.outstanding_for(user),
            "overdue": selectors.overdue_reviews(user),
        },
        permission="policies.view_policies",
    )
