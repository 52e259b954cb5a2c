from django.utils.translation import gettext_lazy as _

from portal.home.panels import DashboardPanel

from . import selectors


def dashboard_panel(request, libraries):
    """Urgent announcements pinned, then unread, then the rest; one query."""
    items, unread = selectors.dashboard_announcements(request.user, libraries)
    return DashboardPanel(
        title=_("Announcements"),
        template_name="announcements/panel.html",
        context={
            "libraries": libraries,
            "announcements": items,
            "unread": unread,
        },
        permission="announcements.view_announcements",
        # An expiring announcement leaves the panel (and the unread count) by itself.
        fresh_until=items[0].next_expiry if items else None,
    )
