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


class PoliciesConfig(PortalPluginConfig):
    name = "knowledge_base.policies"
    label = "policies"
    verbose_name = _("Shared policies")
    meta = PluginMeta(
        name=_("Shared policies"),
        version="1.0.0",
        compatibility="concord>=1.0,<2",
        description=_(
            "The consortium's shared policies: versioned, adopted, acknowledged by staff."
        ),
        permissions=(
            PluginPermission(
                "view_policies",
                _("Read shared policies"),
                (
                    CONSORTIUM_ADMIN,
                    DIRECTOR,
                    STAFF,
                    COMMUNICATIONS,
                    TRAINER,
                ),
            ),
            PluginPermission(
                "acknowledge_policy",
                _("Acknowledge a policy"),
                (
                    DIRECTOR,
                    STAFF,
                    COMMUNICATIONS,
                    TRAINER,
                ),
            ),
            PluginPermission(
                "add_local_procedure",
                _("Attach the library's local procedure to a policy"),
                (DIRECTOR,),
            ),
            PluginPermission(
                "comment_on_drafts",
                _("Comment on draft policies during their comment period"),
                (CONSORTIUM_ADMIN, DIRECTOR),
            ),
            PluginPermission(
                "view_acknowledgements",
                _("See who has acknowledged policies"),
                (
                    CONSORTIUM_ADMIN,
                    DIRECTOR,
                ),
            ),
            PluginPermission(
                "manage_policies",
                _("Edit and publish shared policies"),
                (CONSORTIUM_ADMIN,),
            ),
        ),
        navigation=(
            NavLink(_("Policies"), "policies:index", ("policies.view_policies",)),
            NavLink(_("Acknowledgements"), "policies:report", ("policies.view_acknowledgements",)),
        ),
        dashboard_panel="knowledge_base.policies.panels.dashboard_panel",
        # Bulk writes of these call portal.home.panels.panel_changed too. Local procedures
        # for the policy page, which keeps those a person reads (portal.home.kept).
        dashboard_panel_changes_with=(
            "policies.PolicyPage",
            "policies.PolicyVersion",
            "policies.AcknowledgementCampaign",
            "policies.Acknowledgement",
            "policies.LocalProcedure",
        ),
        # A policy's version line, text and campaigns: acknowledging moves the panel on,
        # not these.
        shared_parts_change_with=(
            "policies.PolicyPage",
            "policies.PolicyVersion",
            "policies.AcknowledgementCampaign",
        ),
        report_columns="knowledge_base.policies.reports.report_columns",
        # Scopes an integration API token may carry for this plugin (portal.api).
        extra={
            "api_router": "knowledge_base.policies.api.router",
            "api_scopes": {"policies:read": _("Read policies")},
        },
        demo_seeder="knowledge_base.policies.demo.seed",
        demo_reset="knowledge_base.policies.demo.reset_demo",
    )

    def ready(self):
        from . import signals  # noqa: F401 - connects the receivers
