from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from portal.home.panels import DashboardPanel

from .rules import RECENT_DAYS
from .selectors.proposals import open_votes, recent_decisions


def dashboard_panel(request, libraries):
    """ "Your library has N open votes", deadlines first, then the recent decisions; a
    fixed number of queries."""
    votes = open_votes(request.user)
    decisions = recent_decisions()
    by_library: dict = {}
    for vote in votes:
        entry = by_library.setdefault(vote.library.pk, (vote.library, {"waiting": 0}))
        if not vote.voted:
            entry[1]["waiting"] += 1
    return DashboardPanel(
        title=_("Open votes"),
        template_name="governance/panel.html",
        context={
            "libraries": libraries,
            "open_votes": votes,
            "by_library": sorted(by_library.values(), key=lambda e: e[0].name),
            "recent_decisions": decisions,
        },
        permission="governance.view_proposals",
        fresh_until=_changes_by_itself(votes, decisions),
    )


def _changes_by_itself(votes, decisions):
    """When a vote shown closes, or a decision shown grows too old to be recent."""
    moments = [vote.proposal.closes_at for vote in votes]
    moments += [p.closed_at + timedelta(days=RECENT_DAYS) for p in decisions if p.closed_at]
    return min(moments, default=None)
