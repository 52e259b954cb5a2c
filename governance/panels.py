from django.utils.translation import gettext_lazy as _

from portal.home.panels import DashboardPanel

from .selectors.proposals import open_votes, recent_decisions


def dashboard_panel(request, libraries):
    """ "Your library has N open votes", deadlines first, then the recent decisions; a
    fixed number of queries."""
    votes = open_votes(request.user)
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
            "recent_decisions": recent_decisions(),
        },
        permission="governance.view_proposals",
    )
