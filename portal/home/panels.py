"""The dashboard: each enabled plugin contributes one panel through its PluginMeta."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string

from portal import access
from portal.members.switches import enabled_plugins_by_library
from portal.plugins import available_plugins, import_string_or_none


@dataclass
class DashboardPanel:
    title: Any
    template_name: str
    context: dict = field(default_factory=dict)
    # Shown only where the person holds this permission for one of the libraries given.
    permission: str | None = None
    order: int = 100
    plugin: str = ""

    def render(self, request) -> str:
        return render_to_string(self.template_name, {**self.context, "panel": self}, request)


def panels_for(request) -> list[DashboardPanel]:
    """The panels this person sees, in a number of queries that does not grow with data."""
    user = request.user
    memberships = access.memberships_of(user)
    if access.is_consortium_admin(user):
        roots = [m.library for m in memberships if m.library.is_consortium] or [
            m.library for m in memberships
        ]
    else:
        roots = [m.library for m in memberships]
    enabled = enabled_plugins_by_library(roots)
    panels = []
    for plugin in available_plugins():
        libraries = [lib for lib in roots if plugin.label in enabled.get(lib.pk, ())]
        factory = import_string_or_none(plugin.meta.dashboard_panel)
        if not libraries or factory is None:
            continue
        panel = factory(request, libraries)
        if panel is None:
            continue
        panel.plugin = plugin.label
        if panel.permission and not _held_on_any(user, panel.permission, memberships, libraries):
            continue
        panels.append(panel)
    return sorted(panels, key=lambda p: (p.order, str(p.title)))


def _held_on_any(user, perm, memberships, libraries) -> bool:
    # Judged from the memberships already loaded, as access.can would, without a query per panel.
    from portal.members.roles import permissions_of_role

    if user.is_superuser:
        return perm in permissions_of_role("consortium_admin")
    ids = {lib.pk for lib in libraries}
    return any(m.library_id in ids and perm in permissions_of_role(m.role) for m in memberships)
