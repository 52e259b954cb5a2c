"""Which plugins are on for which member library.

A plugin is on for a library when the consortium has it enabled and the nearest switch on
the library's path to the root (its own, its system's, ...) does not turn it off. A
mandatory plugin ignores the switches.

Within a request the consortium's plugin states and each plugin's switches are read once
(``portal.per_request``); saving or deleting either forgets them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from portal import per_request
from portal.plugins import available_plugins

from .models import LibraryPluginSwitch, MemberLibrary, PluginState

_STATES = "plugin-states"
_SWITCHES = "plugin-switches"


def _states() -> dict[str, PluginState]:
    return per_request.remember(_STATES, lambda: {s.plugin: s for s in PluginState.objects.all()})


def _all_switches() -> list[dict]:
    """Every switch, read once per request: a page asks for several plugins and libraries,
    and switches are few (only where a library differs from its parent)."""
    return per_request.remember(
        _SWITCHES,
        lambda: list(LibraryPluginSwitch.objects.values("plugin", "library__path", "enabled")),
    )


def _switches_of(label: str) -> list[dict]:
    """One plugin's switches: from the request's reading, or just this plugin's."""
    if per_request.active():
        return [row for row in _all_switches() if row["plugin"] == label]
    return list(LibraryPluginSwitch.objects.filter(plugin=label).values("library__path", "enabled"))


def _switches_at(paths: set[str]) -> list[dict]:
    """The switches on these libraries: from the request's reading, or just theirs."""
    if per_request.active():
        return [row for row in _all_switches() if row["library__path"] in paths]
    return list(
        LibraryPluginSwitch.objects.filter(library__path__in=paths).values(
            "plugin", "enabled", "library__path"
        )
    )


@receiver([post_save, post_delete], sender=PluginState)
def _state_changed(sender, instance, **kwargs):
    per_request.forget(_STATES)


@receiver([post_save, post_delete], sender=LibraryPluginSwitch)
def _switch_changed(sender, instance, **kwargs):
    per_request.forget(_SWITCHES)


def switches_stamp() -> str:
    """The consortium's plugin states and every switch, as one string (for keys of what
    is kept per person: a switch moved, what they see may differ)."""
    states = sorted((s.plugin, s.enabled, s.mandatory) for s in _states().values())
    rows = (
        _all_switches()
        if per_request.active()
        else list(LibraryPluginSwitch.objects.values("plugin", "library__path", "enabled"))
    )
    switches = sorted((r["plugin"], r["library__path"], r["enabled"]) for r in rows)
    return hashlib.sha256(repr((states, switches)).encode()).hexdigest()[:16]


def enabled_plugins_by_library(libraries: Iterable[MemberLibrary]) -> dict[int, set[str]]:
    """``{library_id: {plugin labels on}}`` for many libraries in two queries."""
    libraries = list(libraries)
    labels = [p.label for p in available_plugins()]
    states = _states()
    consortium_on = {label for label in labels if label not in states or states[label].enabled}
    mandatory = {label for label in consortium_on if label in states and states[label].mandatory}
    paths = {p for lib in libraries for p in lib.ancestor_paths()}
    switches: dict[str, dict[str, bool]] = {}
    if paths:
        for row in _switches_at(paths):
            switches.setdefault(row["library__path"], {})[row["plugin"]] = row["enabled"]
    result = {}
    for lib in libraries:
        on = set()
        for label in consortium_on:
            enabled = True
            if label not in mandatory:
                for path in lib.ancestor_paths():  # root first, so the nearest switch wins
                    if label in switches.get(path, {}):
                        enabled = switches[path][label]
            if enabled:
                on.add(label)
        result[lib.pk] = on
    return result


def plugin_enabled(label: str, library: MemberLibrary) -> bool:
    if label == "portal":
        return True
    cache = library.__dict__.setdefault("_enabled_plugins", None)
    if cache is None:
        cache = enabled_plugins_by_library([library])[library.pk]
        library.__dict__["_enabled_plugins"] = cache
    return label in cache


def enabled_filter(label: str) -> Q | None:
    """A Q selecting the libraries where ``label`` is on; None means nowhere."""
    if label == "portal":
        return Q()
    if label not in {p.label for p in available_plugins()}:
        return None
    state = _states().get(label)
    if state and not state.enabled:
        return None
    if state and state.mandatory:
        return Q()
    rows = _switches_of(label)
    offs = [r["library__path"] for r in rows if not r["enabled"]]
    ons = [r["library__path"] for r in rows if r["enabled"]]
    query = Q()
    for off in offs:
        reenabled = Q(pk__in=[])
        for on in ons:
            if on.startswith(off) and on != off:
                reenabled |= Q(path__startswith=on)
        query &= ~Q(path__startswith=off) | reenabled
    return query
