from django.utils.translation import gettext_lazy as _

from portal.home.panels import DashboardPanel


def dashboard_panel(request, libraries):
    """The module's panel on the dashboard of someone who may use it."""
    return DashboardPanel(
        title=_("Open proposals"),
        template_name="governance/panel.html",
        context={"libraries": libraries},
        permission="governance.view_proposals",
    )
