from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from portal import access

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
