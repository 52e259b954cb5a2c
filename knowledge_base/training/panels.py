from django.utils.translation import gettext_lazy as _

from portal import access
from portal.home.panels import DashboardPanel

from . import selectors
from .rules import REPORT


def dashboard_panel(request, libraries):
    """My assigned courses with their due dates (one query), and for those who follow a
    library's training, the reports of the libraries they answer for (one more)."""
    reports = []
    if REPORT in access.permissions_anywhere(request.user):
        found = list(selectors.report_libraries(request.user)[:50])
        # A system's director answers for its branches: its own report covers them.
        reports = [
            lib
            for lib in found
            if not any(lib.path.startswith(o.path) and lib.path != o.path for o in found)
        ][:5]
    return DashboardPanel(
        title=_("Your training"),
        template_name="training/panel.html",
        context={
            "libraries": libraries,
            "enrolments": selectors.my_assigned(request.user),
            "reports": reports,
        },
        permission="training.take_courses",
    )
