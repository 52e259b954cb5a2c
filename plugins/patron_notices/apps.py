from django.utils.translation import gettext_lazy as _

from portal.members.roles import COMMUNICATIONS, CONSORTIUM_ADMIN, DIRECTOR
from portal.plugins import PluginMeta, PluginPermission, PortalPluginConfig


class PatronNoticesConfig(PortalPluginConfig):
    name = "plugins.patron_notices"
    label = "patron_notices"
    verbose_name = _("Patron notices")
    meta = PluginMeta(
        name=_("Patron notices"),
        version="1.0.0",
        compatibility="concord>=1.0,<2",
        description=_(
            "The patron directory and consortium-wide notices to patrons, branded per library."
        ),
        permissions=(
            PluginPermission(
                "view_patrons",
                _("See the library's patrons"),
                (
                    CONSORTIUM_ADMIN,
                    DIRECTOR,
                    COMMUNICATIONS,
                ),
            ),
            PluginPermission(
                "import_patrons",
                _("Import the library's patrons"),
                (
                    CONSORTIUM_ADMIN,
                    COMMUNICATIONS,
                ),
            ),
            PluginPermission(
                "draft_notices",
                _("Draft patron notices"),
                (
                    CONSORTIUM_ADMIN,
                    COMMUNICATIONS,
                ),
            ),
            PluginPermission(
                "approve_notices",
                _("Take part in a notice for the library's patrons"),
                (
                    CONSORTIUM_ADMIN,
                    DIRECTOR,
                    COMMUNICATIONS,
                ),
            ),
            PluginPermission(
                "send_notices",
                _("Send notices to patrons"),
                (CONSORTIUM_ADMIN,),
            ),
        ),
        dashboard_panel="plugins.patron_notices.panels.dashboard_panel",
        demo_seeder="plugins.patron_notices.demo.seed_patrons",
    )
