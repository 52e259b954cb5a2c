"""Which plugins are on for which member library.

A plugin is on for a library when the consortium has it enabled and the nearest switch on
the library's path to the root (its own, its system's, ...) does not turn it off. A
mandatory plugin ignores the switches.

Within a request the consortium's plugin states and each plugin's switches are read once
(``portal.per_request``); saving or deleting either forgets them. Between requests they are
kept in the shared cache (every signed-in page asks, and they change seldom), one round
trip for both, under a generation that moves on, now and again when the transaction
commits, whenever a state, a switch or a member library (the switches are read by the
libraries' paths) is saved or deleted; what a request read before a change carries the
old generation and is never used. Nothing is kept by a request after it changed them in a
transaction not yet committed (it might yet roll back), outside a request (tasks, the
shell: every read goes to the database, as before), or where the cache is the process's
own (the demo); and nothing longer than ``KEPT_SECONDS``. Decisions still read the grants
(``access.can``, from the person's kept standing: ``standing``) every time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.core.cache import cache
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from portal import per_request
from portal.plugins import available_plugins

from .models import LibraryPluginSwitch, MemberLibrary, PluginState
from .standing import (
    current_or_new,
    forget_along,
    move_on,
    read_along,
    settled,
    shared_by_every_process,
    taken_along,
)

_STATES = "plugin-states"
_SWITCHES = "plugin-switches"
_KEPT = "concord:switches"
_GENERATION = "concord:switches:generation"
# A safety net: kept no longer than this, whatever happens.
KEPT_SECONDS = 10 * 60
# Nearly every signed-in page asks whether a plugin is on: read with the person's standing.
read_along(_GENERATION, _KEPT)


def _states() -> dict[str, PluginState]:
    if per_request.active() and shared_by_every_process():
        return per_request.remember(_STATES, lambda: _kept()["states"])
    return per_request.remember(_STATES, _states_from_database)


def _kept() -> dict:
    return per_request.remember(_KEPT, _kept_or_read)


def _all_switches() -> list[dict]:
    """Every switch, read once per request: a page asks for several plugins and libraries,
    and switches are few (only where a library differs from its parent)."""
    if per_request.active() and shared_by_every_process():
        return per_request.remember(_SWITCHES, lambda: _kept()["switches"])
    return per_request.remember(_SWITCHES, _switches_from_database)


def _states_from_database() -> dict[str, PluginState]:
    return {s.plugin: s for s in PluginState.objects.all()}


def _switches_from_database() -> list[dict]:
    return list(LibraryPluginSwitch.objects.values("plugin", "library__path", "enabled"))


def _kept_or_read() -> dict:
    """The states and the switches, from the shared cache when what is kept there is of
    the current generation, else from the database (and kept)."""
    found = taken_along([_GENERATION, _KEPT]) or cache.get_many([_GENERATION, _KEPT])
    generation = found.get(_GENERATION) or current_or_new(_GENERATION)
    entry = found.get(_KEPT)
    if isinstance(entry, dict) and entry.get("generation") == generation:
        return entry
    entry = {
        "generation": generation,
        "states": _states_from_database(),
        "switches": _switches_from_database(),
    }
    if settled():
        cache.set(_KEPT, entry, KEPT_SECONDS)
    return entry


def _moved_on() -> None:
    """What is kept of the switches is stale: now, and once the transaction commits."""
    per_request.forget(_KEPT)
    forget_along(_GENERATION, _KEPT)
    move_on(_GENERATION)


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
    per_request.forget(_STATES, _SWITCHES)
    _moved_on()


@receiver([post_save, post_delete], sender=LibraryPluginSwitch)
def _switch_changed(sender, instance, **kwargs):
    per_request.forget(_STATES, _SWITCHES)
    _moved_on()


@receiver([post_save, post_delete], sender=MemberLibrary)
def _library_changed(sender, instance, **kwargs):
    per_request.forget(_SWITCHES)
    _moved_on()


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


def enabled_everywhere(label: str) -> bool:
    """True when ``label`` is on for every library (no switch turns it off anywhere)."""
    query = enabled_filter(label)
    return query is not None and not query.children


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
