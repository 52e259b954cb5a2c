"""The dashboard: each enabled plugin contributes one panel through its PluginMeta.

A plugin that declares what its panel shows (``PluginMeta.dashboard_panel_changes_with``)
has the panel's HTML kept in the shared cache between visits, one entry per person and
what they see it through: their memberships and standing (``portal.members.standing``),
the roles, the plugin switches, the day, the language and the address. The entry is dropped
when the plugin's generation moves on, which happens when one of the declared models is
saved or deleted (the receivers below) or when the plugin calls :func:`panel_changed` after
a bulk ``update()`` or raw SQL; when the panel says its content changes by itself at a
moment (``fresh_until``: a vote's deadline); and after ``KEPT_SECONDS`` in any case.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from wagtail.signals import post_page_move

from portal import access, per_request
from portal.members import standing
from portal.members.roles import definitions_stamp
from portal.members.switches import enabled_plugins_by_library, switches_stamp
from portal.plugins import available_plugins, import_string_or_none

# The safety net: a kept panel is worked out again after this long whatever happened.
KEPT_SECONDS = 10 * 60
# Stands for the request's CSRF token in kept HTML; the real one is put in when served.
_CSRF_PLACEHOLDER = "concord-csrf-token-placeholder"


@dataclass
class DashboardPanel:
    title: Any
    template_name: str
    context: dict = field(default_factory=dict)
    # Shown only where the person holds this permission for one of the libraries given.
    permission: str | None = None
    order: int = 100
    plugin: str = ""
    # When what the panel shows changes by itself (a deadline passes): it is not kept
    # past this moment.
    fresh_until: datetime | None = None

    def render(self, request) -> str:
        return render_to_string(self.template_name, {**self.context, "panel": self}, request)


def panels_for(request) -> list[DashboardPanel]:
    """The panels this person sees, in a number of queries that does not grow with data."""
    memberships = access.memberships_of(request.user)
    panels = [
        _panel(request, plugin.label, factory, libraries, memberships)
        for plugin, libraries, factory in _factories(request.user, memberships)
    ]
    return sorted(filter(None, panels), key=lambda p: (p.order, str(p.title)))


def _panel(request, label, factory, libraries, memberships) -> DashboardPanel | None:
    """Plugin ``label``'s panel for these libraries, or None where it has none to show or
    the person lacks the permission it asks for."""
    panel = factory(request, libraries)
    if panel is None:
        return None
    panel.plugin = label
    if panel.permission and not _held_on_any(
        request.user, panel.permission, memberships, libraries
    ):
        return None
    return panel


def _factories(user, memberships) -> list[tuple]:
    """``(plugin, libraries, panel factory)`` of each plugin with a panel that is on for
    some of the person's libraries (the office: the consortium)."""
    if access.is_consortium_admin(user):
        roots = [m.library for m in memberships if m.library.is_consortium] or [
            m.library for m in memberships
        ]
    else:
        roots = [m.library for m in memberships]
    enabled = enabled_plugins_by_library(roots)
    found = []
    for plugin in available_plugins():
        libraries = [lib for lib in roots if plugin.label in enabled.get(lib.pk, ())]
        factory = import_string_or_none(plugin.meta.dashboard_panel)
        if libraries and factory is not None:
            found.append((plugin, libraries, factory))
    return found


def _held_on_any(user, perm, memberships, libraries) -> bool:
    # Judged from the memberships already loaded, as access.can would, without a query per panel.
    from portal.members.roles import permissions_of_role

    if user.is_superuser:
        return perm in permissions_of_role("consortium_admin")
    ids = {lib.pk for lib in libraries}
    return any(m.library_id in ids and perm in permissions_of_role(m.role) for m in memberships)


# --- kept between visits ------------------------------------------------------------------


def _generation_key(label: str, shared: bool = False) -> str:
    return f"concord:panel:generation:{label}" + (":shared" if shared else "")


def panel_changed(label: str, *, shared_parts: bool = True) -> None:
    """Every kept panel of plugin ``label`` (and every part of its pages kept by
    ``portal.home.kept``) is worked out again on its next visit: call it after writing what
    the panel shows without model signals (``update()``, raw SQL, ``bulk_create``). Now,
    and again when the transaction commits. ``shared_parts=False`` after writing only what
    is a person's own (their progress): the parts everyone reads alike are kept."""
    _move_on([(label, False), *([(label, True)] if shared_parts else [])])


def _move_on(generations) -> None:
    keys = [_generation_key(label, shared) for label, shared in generations]

    def bump():
        cache.set_many({key: uuid.uuid4().hex for key in keys}, None)

    per_request.forget(*keys)
    bump()
    transaction.on_commit(bump)


def generation(label: str, shared: bool = False) -> str:
    """Plugin ``label``'s current generation (made on first use), read once per request:
    its panels' and personal parts', or (``shared``) that of the parts everyone reads
    alike."""
    key = _generation_key(label, shared)
    return per_request.remember(key, lambda: cache.get(key) or standing.current_or_new(key))


def unread_generations(label: str, shared: list[bool]) -> list[str]:
    """The keys of plugin ``label``'s generations (panels' and personal parts', or
    ``shared``) that this request has not read yet, for a caller to read with its own."""
    keys = [_generation_key(label, kind) for kind in dict.fromkeys(shared)]
    return [key for key in keys if not per_request.remembered(key)]


def remember_generations(keys: list[str], found: dict) -> None:
    """Generations under ``keys`` as the caller's read found them (made where missing)."""
    for key in keys:
        per_request.remember(key, lambda key=key: found.get(key) or standing.current_or_new(key))


def connect_panel_changes() -> None:
    """Hear the writes of every model a plugin's panel or shared parts declare, and every
    page moved in the tree (at start-up)."""
    post_page_move.connect(_page_moved, weak=False, dispatch_uid="panel:page-moved")
    for plugin in available_plugins():
        panel = plugin.meta.dashboard_panel_changes_with or ()
        shared = plugin.meta.shared_parts_change_with
        shared = panel if shared is None else shared
        for model_label in dict.fromkeys([*panel, *shared]):
            model = apps.get_model(model_label)
            receiver = _bumps(
                [
                    (plugin.label, kind)
                    for kind, declared in ((False, panel), (True, shared))
                    if model_label in declared
                ]
            )
            uid = f"panel:{plugin.label}:{model_label}"
            post_save.connect(receiver, sender=model, weak=False, dispatch_uid=uid + ":save")
            post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=uid + ":delete")
            for m2m in model._meta.many_to_many:
                m2m_changed.connect(
                    receiver,
                    sender=m2m.remote_field.through,
                    weak=False,
                    dispatch_uid=f"{uid}:{m2m.name}",
                )


def _page_moved(sender, **kwargs):
    """A page moved in the tree (Wagtail saves nothing then): its address and its
    descendants' changed, and so may the neighbours of a page beside it. Kept panels and
    parts link to pages, so every plugin's are worked out again; moves are rare."""
    _move_on(
        [
            (plugin.label, shared)
            for plugin in available_plugins()
            if plugin.meta.dashboard_panel_changes_with or plugin.meta.shared_parts_change_with
            for shared in (False, True)
        ]
    )


def _bumps(generations: list[tuple[str, bool]]):
    def receiver(sender, **kwargs):
        if not kwargs.get("action", "post_").startswith("pre_"):
            _move_on(generations)

    return receiver


@dataclass
class ShownPanel:
    """A panel as the dashboard shows it: what the template reads, and its HTML."""

    plugin: str
    title: str
    order: int
    html: str


def shown_panels(request) -> list[ShownPanel]:
    """The panels this person sees, rendered: kept ones from the cache (two round trips
    for all of them), the others worked out and rendered as :func:`panels_for` does."""
    memberships = access.memberships_of(request.user)
    plugins = _factories(request.user, memberships)
    keepable = [
        p
        for p, _l, _f in plugins
        if p.meta.dashboard_panel_changes_with is not None and standing.shared_by_every_process()
    ]
    generations = cache.get_many([_generation_key(p.label) for p in keepable])
    for plugin in keepable:
        key = _generation_key(plugin.label)
        if key not in generations:
            generations[key] = standing.current_or_new(key)
    keys = {}
    if keepable:
        seen_through = seen_through_of(request, memberships)
        keys = {
            p.label: _panel_key(p.label, generations[_generation_key(p.label)], seen_through, libs)
            for p, libs, _f in plugins
            if p in keepable
        }
    kept = cache.get_many(list(keys.values())) if keys else {}
    shown = []
    for plugin, libraries, factory in plugins:
        key = keys.get(plugin.label)
        if key in kept:
            entry = kept[key]
        else:
            entry = _work_out(request, plugin.label, factory, libraries, memberships)
            if key is not None and standing.settled():
                seconds = KEPT_SECONDS
                if entry and entry["fresh_until"] is not None:
                    seconds = min(seconds, (entry["fresh_until"] - timezone.now()).total_seconds())
                if seconds >= 1:
                    cache.set(key, entry, int(seconds))
        if entry:
            html = entry["html"]
            if _CSRF_PLACEHOLDER in html:
                html = html.replace(_CSRF_PLACEHOLDER, get_token(request))
            html = mark_safe(html)  # noqa: S308 - the panel's own template rendered it
            shown.append(ShownPanel(plugin.label, entry["title"], entry["order"], html))
    return sorted(shown, key=lambda p: (p.order, p.title))


def _work_out(request, label, factory, libraries, memberships) -> dict | None:
    panel = _panel(request, label, factory, libraries, memberships)
    if panel is None:
        return None
    # The CSRF token is the one thing in a panel that belongs to the browser, not the
    # person: rendered as a placeholder, replaced by the request's own when served.
    html = render_to_string(
        panel.template_name,
        {**panel.context, "panel": panel, "csrf_token": _CSRF_PLACEHOLDER},
        request,
    )
    return {
        "title": str(panel.title),
        "order": panel.order,
        "html": html,
        "fresh_until": panel.fresh_until,
    }


def seen_through_of(request, memberships) -> str:
    """What a person's panels depend on besides the plugin's own data, as one string."""
    user = request.user
    parts = [
        user.pk,
        user.is_superuser,
        standing.version(user),
        definitions_stamp(),
        switches_stamp(),
        timezone.localdate().isoformat(),
        translation.get_language(),
        request.get_full_path(),
        sorted((m.library_id, m.role) for m in memberships),
    ]
    return repr(parts)


def _panel_key(label, generation, seen_through: str, libraries) -> str:
    digest = hashlib.sha256(
        f"{seen_through}|{sorted(lib.pk for lib in libraries)}".encode()
    ).hexdigest()[:32]
    return f"concord:panel:{label}:{generation}:{digest}"
