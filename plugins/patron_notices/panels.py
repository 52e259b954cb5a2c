from django.utils.translation import gettext_lazy as _

from portal import access
from portal.home.panels import DashboardPanel

from .notices.selectors import notices_to_decide


def dashboard_panel(request, libraries):
    """Notices waiting for the library's decision (for those who decide), and links to the
    directory; the office's permission is counts, a library's is records."""
    office = access.is_consortium_admin(request.user)
    waiting = []
    if not office and "patron_notices.approve_notices" in access.permissions_anywhere(request.user):
        waiting = [row for row in notices_to_decide(request.user) or () if row[2] is None]
    return DashboardPanel(
        title=_("Patron notices"),
        template_name="patron_notices/panel.html",
        context={"libraries": libraries, "waiting": waiting},
        # A notice whose deadline passes no longer waits for a decision.
        fresh_until=min(
            (n.participation_deadline for n, _lib, _d in waiting if n.participation_deadline),
            default=None,
        ),
        permission=(
            "patron_notices.view_patron_counts" if office else "patron_notices.view_patrons"
        ),
    )
