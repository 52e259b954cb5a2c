"""The office's admin: committees, meetings and proposals as Wagtail snippets.

Ballots are deliberately not registered: nothing in the admin shows a library beside a
choice, and the count is published only by closing the vote.
"""

from django.utils.translation import gettext_lazy as _
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from .models import Committee, CommitteeMembership, Delegation, Meeting, Proposal


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
