"""Committee voting: Committees, proposals, ballots by member library, results and minutes."""

from django.utils.translation import gettext_lazy as _

from portal.plugins import (
    CONSORTIUM_ADMIN,
    DIRECTOR,
    STAFF,
    NavLink,
    PluginMeta,
    PluginPermission,
    PortalPluginConfig,
)


class GovernanceConfig(PortalPluginConfig):
    name = "governance"
    label = "governance"
    verbose_name = _("Committee voting")
    meta = PluginMeta(
        name=_("Committee voting"),
        version="1.0.0",
        compatibility="concord>=1.0,<2",
        description=_("Committees, proposals, ballots by member library, results and minutes."),
        permissions=(
            PluginPermission(
                "view_proposals",
                _("See proposals and results"),
                (
                    CONSORTIUM_ADMIN,
                    DIRECTOR,
                    STAFF,
                ),
            ),
            PluginPermission(
                "cast_ballot",
                _("Vote for the library"),
                (DIRECTOR,),
            ),
            PluginPermission(
                "name_proxy",
                _("Name a proxy or alternate for the library"),
                (DIRECTOR,),
            ),
            PluginPermission(
                "manage_committees",
                _("Run committees, proposals and meetings"),
                (CONSORTIUM_ADMIN,),
            ),
        ),
        navigation=(
            NavLink(_("Votes"), "governance:proposals", ("governance.view_proposals",)),
            NavLink(_("Meetings"), "governance:meetings", ("governance.view_proposals",)),
        ),
        dashboard_panel="governance.panels.dashboard_panel",
        # Bulk writes of these call portal.home.panels.panel_changed too.
        dashboard_panel_changes_with=(
            "governance.Proposal",
            "governance.Eligibility",
            "governance.Ballot",
            "governance.Delegation",
            "governance.Committee",
        ),
        demo_seeder="governance.demo.seed",
        demo_reset="governance.demo.reset_demo",
        extra={
            "api_router": "governance.api.router",
            "api_scopes": {"proposals:read": _("Read proposals and published results")},
        },
    )

    def ready(self):
        from . import checks, signals  # noqa: F401 - registers the check, connects the receiver
