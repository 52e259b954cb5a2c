from django.utils.translation import gettext_lazy as _

from portal.plugins import (
    COMMUNICATIONS,
    CONSORTIUM_ADMIN,
    DIRECTOR,
    DemoOption,
    NavLink,
    PeriodicJob,
    PluginMeta,
    PluginPermission,
    PortalPluginConfig,
)


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
            # A library's own people see and import its patrons; the office sees counts,
            # and individual records only with the explicit permission below.
            PluginPermission(
                "view_patrons",
                _("See the library's patrons"),
                (
                    DIRECTOR,
                    COMMUNICATIONS,
                ),
            ),
            PluginPermission(
                "import_patrons",
                _("Import the library's patrons"),
                (
                    DIRECTOR,
                    COMMUNICATIONS,
                ),
            ),
            PluginPermission(
                "view_patron_counts",
                _("See how many patrons each library has"),
                (CONSORTIUM_ADMIN,),
            ),
            # No role holds it: granted to one person for one library, and every view of a
            # record under it is written to the audit log.
            PluginPermission(
                "view_patron_records",
                _("Open individual patron records (audited)"),
                (),
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
        navigation=(
            NavLink(
                _("Patron notices"), "patron_notices:notices", ("patron_notices.approve_notices",)
            ),
            NavLink(
                _("Patrons"),
                "patron_notices:overview",
                ("patron_notices.view_patrons", "patron_notices.view_patron_counts"),
            ),
        ),
        dashboard_panel="plugins.patron_notices.panels.dashboard_panel",
        # Bulk writes of these call portal.home.panels.panel_changed too.
        dashboard_panel_changes_with=(
            "patron_notices.Notice",
            "patron_notices.LibraryParticipation",
        ),
        demo_seeder="plugins.patron_notices.directory.demo.seed_patrons",
        demo_options=(DemoOption("--patrons", _("Patrons in total. Default 5000."), int, 5000),),
        periodic_jobs=(
            PeriodicJob("purge_expired", "patron_notices.purge_expired_patrons", 24 * 3600.0),
        ),
        api_router="plugins.patron_notices.directory.api.router",
        # The engine's queue (PATRON_NOTICES_QUEUE), as a route of Celery's task_routes.
        task_router="plugins.patron_notices.notices.queue.route",
        api_scopes={
            "patrons:write": _("Sync the library's patrons from its ILS (create, update, expire)")
        },
    )

    def ready(self):
        # signals connects the receivers; directory.admin registers the imports' admin viewset.
        from . import signals  # noqa: F401
        from .directory import admin  # noqa: F401
