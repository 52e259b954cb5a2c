"""The office's admin: committees, meetings and proposals as Wagtail snippets.

Ballots are deliberately not registered: nothing in the admin shows a library beside a
choice, and the count is published only by closing the vote.
"""

from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from wagtail.admin import messages
from wagtail.admin.widgets.button import HeaderButton
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import (
    CreateView,
    EditView,
    SnippetViewSet,
    SnippetViewSetGroup,
)

from portal.admin_policies import RolePermissionPolicy

from .models import Committee, CommitteeMembership, Delegation, Meeting, Proposal
from .rules import can_manage


def _proposal_editable(action, proposal) -> bool:
    # Once a vote is open its terms are fixed: the portal extends, withdraws or closes it.
    return action == "view" or proposal.state == Proposal.State.DRAFT


# Who runs committees is a role per member library (governance.manage_committees), not a
# Django model permission on a group.
for _model in (Committee, CommitteeMembership, Meeting):
    register_permission_policy(
        _model,
        RolePermissionPolicy(_model, {"add", "change", "delete", "view"}, can_manage),
    )
register_permission_policy(
    Proposal,
    RolePermissionPolicy(
        Proposal, {"add", "change", "delete", "view"}, can_manage, _proposal_editable
    ),
)
register_permission_policy(Delegation, RolePermissionPolicy(Delegation, {"view"}, can_manage))


class ProposalCreateView(CreateView):
    def get_success_buttons(self):
        # A proposal is written here and opened on the portal, where directors will see it.
        return [
            messages.button(self.object.get_absolute_url(), _("Review and open the vote")),
            *super().get_success_buttons(),
        ]

    def get_success_url(self):
        return self.object.get_absolute_url()


class ProposalEditView(EditView):
    def dispatch(self, request, *args, **kwargs):
        # An opened proposal's terms are fixed: its page is on the portal (extend, withdraw,
        # close, results), not a read-only form here.
        if self.object.state != Proposal.State.DRAFT:
            return redirect(self.object.get_absolute_url())
        return super().dispatch(request, *args, **kwargs)

    @property
    def header_buttons(self):
        return [
            *super().header_buttons,
            HeaderButton(
                _("View on the portal"), url=self.object.get_absolute_url(), icon_name="view"
            ),
        ]


class CommitteeViewSet(SnippetViewSet):
    model = Committee
    icon = "group"
    list_display = ["name", "chair"]
    search_fields = ["name"]


class CommitteeMembershipViewSet(SnippetViewSet):
    model = CommitteeMembership
    icon = "user"
    menu_label = _("Committee seats")
    list_display = ["library", "committee", "since"]
    list_filter = ["committee"]


class MeetingViewSet(SnippetViewSet):
    model = Meeting
    icon = "date"
    list_display = ["title", "committee", "starts_at"]
    list_filter = ["committee"]
    search_fields = ["title"]


class ProposalViewSet(SnippetViewSet):
    model = Proposal
    add_view_class = ProposalCreateView
    edit_view_class = ProposalEditView
    icon = "tasks"
    list_display = ["title", "committee", "state", "closes_at", "outcome"]
    list_filter = ["state", "committee", "secret"]
    search_fields = ["title"]


class DelegationViewSet(SnippetViewSet):
    model = Delegation
    icon = "user"
    menu_label = _("Proxies and alternates")
    list_display = ["library", "person", "kind", "starts_on", "ends_on", "revoked_at"]
    list_filter = ["kind"]
    # Named by directors on the portal, with the audit record; the office only reads them.
    add_to_admin_menu = False


class GovernanceGroup(SnippetViewSetGroup):
    menu_label = _("Committee voting")
    menu_icon = "tasks"
    menu_order = 250
    items = (
        ProposalViewSet,
        CommitteeViewSet,
        CommitteeMembershipViewSet,
        MeetingViewSet,
        DelegationViewSet,
    )


register_snippet(GovernanceGroup)
