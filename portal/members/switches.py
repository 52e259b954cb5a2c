"""Which plugins are on for which member library.

A plugin is on for a library when the consortium has it enabled and the nearest switch on
the library's path to the root (its own, its system's, ...) does not turn it off. A
mandatory plugin ignores the switches.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from portal.plugins import available_plugins

from .models import LibraryPluginSwitch, MemberLibrary, PluginState


def _states() -> dict[str, PluginState]:
    return {s.plugin: s for s in PluginState.objects.all()}


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
        for row in LibraryPluginSwitch.objects.filter(library__path__in=paths).values(
            "plugin", "enabled", "library__path"
        ):
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
    state = PluginState.objects.filter(plugin=label).first()
    if state and not state.enabled:
        return None
    if state and state.mandatory:
        return Q()
    rows = list(LibraryPluginSwitch.objects.filter(plugin=label).values("library__path", "enabled"))
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
