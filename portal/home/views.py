from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from wagtail import views as wagtail_views

from portal import access

from . import routing
from .panels import shown_panels


@login_required
def dashboard(request):
    return render(
        request,
        "home/dashboard.html",
        {
            "panels": [(panel, panel.html) for panel in shown_panels(request)],
            "memberships": access.memberships_of(request.user),
        },
    )


def serve(request, path):
    """Wagtail's own page view, with a page served before found from its hint."""
    routing.route_by_hint(request, path)
    return wagtail_views.serve(request, path)
