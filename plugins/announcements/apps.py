from django.utils.translation import gettext_lazy as _

from portal.plugins import (
    COMMUNICATIONS,
    CONSORTIUM_ADMIN,
    DIRECTOR,
    STAFF,
    TRAINER,
    NavLink,
    PluginMeta,
    PluginPermission,
    PortalPluginConfig,
)


class AnnouncementsConfig(PortalPluginConfig):
    name = "plugins.announcements"
    label = "announcements"
    verbose_name = _("Announcements")
    meta = PluginMeta(
        name=_("Announcements"),
        version="1.0.0",
        compatibility="concord>=1.0,<2",
        description=_("News from the consortium office and directors to member staff."),
        permissions=(
            PluginPermission(
                "view_announcements",
                _("Read announcements"),
                (
                    CONSORTIUM_ADMIN,
                    DIRECTOR,
                    STAFF,
                    COMMUNICATIONS,
                    TRAINER,
                ),
            ),
            PluginPermission(
                "publish_announcements",
                _("Publish announcements to the library's staff"),
                (
                    CONSORTIUM_ADMIN,
                    DIRECTOR,
                ),
            ),
            PluginPermission(
                "manage_announcements",
                _("Publish announcements to every member"),
                (CONSORTIUM_ADMIN,),
            ),
        ),
        navigation=(
            NavLink(_("News"), "announcements:list", ("announcements.view_announcements",)),
        ),
        dashboard_panel="plugins.announcements.panels.dashboard_panel",
        # Bulk writes of these call portal.home.panels.panel_changed too.
        dashboard_panel_changes_with=(
            "announcements.AnnouncementPage",
            "announcements.AnnouncementRead",
        ),
        demo_seeder="plugins.announcements.demo.seed",
        demo_reset="plugins.announcements.demo.reset_demo",
        extra={
            "api_router": "plugins.announcements.api.router",
            "api_scopes": {"announcements:read": _("Read announcements published for the library")},
        },
    )

    def ready(self):
        from . import signals  # noqa: F401 - connects the receivers
