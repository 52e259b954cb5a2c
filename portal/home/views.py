from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from portal import access

from .panels import panels_for


@login_required
def dashboard(request):
    panels = panels_for(request)
    return render(
        request,
        "home/dashboard.html",
        {
            "panels": [(panel, panel.render(request)) for panel in panels],
            "memberships": access.memberships_of(request.user),
        },
    )
