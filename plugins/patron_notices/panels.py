from django.utils.translation import gettext_lazy as _

from portal import access
from portal.home.panels import DashboardPanel


def dashboard_panel(request, libraries):
    """Links to the directory; the office's permission is counts, a library's is records."""
    office = access.is_consortium_admin(request.user)
    return DashboardPanel(
        title=_("Patron notices"),
        template_name="patron_notices/panel.html",
        context={"libraries": libraries},
        permission=(
            "patron_notices.view_patron_counts" if office else "patron_notices.view_patrons"
        ),
    )
