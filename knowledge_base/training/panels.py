from django.utils.translation import gettext_lazy as _

from portal.home.panels import DashboardPanel

from . import selectors


def dashboard_panel(request, libraries):
    """My assigned courses with their due dates: one query."""
    return DashboardPanel(
        title=_("Your training"),
        template_name="training/panel.html",
        context={"libraries": libraries, "enrolments": selectors.my_assigned(request.user)},
        permission="training.take_courses",
    )
