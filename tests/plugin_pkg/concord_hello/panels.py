from portal.home.panels import DashboardPanel

from .apps import SAY_HELLO


def dashboard_panel(request, libraries):
    return DashboardPanel(
        title="Greetings",
        template_name="concord_hello/panel.html",
        context={"libraries": libraries},
        permission=SAY_HELLO,
    )
