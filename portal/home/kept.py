"""Parts of a plugin's pages kept as HTML between visits, as the dashboard keeps its panels.

A page whose lists cost more to work out than the page itself (the proposals with their
turnout, a person's open votes, their announcements) keeps that part in the shared cache
under the plugin's generation: for a person's own parts, the one its kept dashboard panels
use, moved on whenever a model of ``PluginMeta.dashboard_panel_changes_with`` is saved or
deleted; for the parts everyone reads alike (a lesson's text, a policy's), one moved on by
the models of ``PluginMeta.shared_parts_change_with`` (the panel's, unless the plugin
names fewer: what people do, such as enrolling, changes their panels but not a lesson's
text). Both move on whenever the plugin calls ``portal.home.panels.panel_changed`` after a
bulk write (the shared one unless it says the write was only people's own). So a plugin
keeps only parts made of what it declares.

A part is either the person's own (``personal``: keyed, as a panel, by the person, their
memberships and standing, the roles, the plugin switches, the day, the language and the
address) or the same for everyone who may see the page (keyed by the language, the time
zone and what the page says it varies with: say, whether the person sees drafts). It is
dropped at its ``fresh_until`` (what it shows changes by itself then: a vote's deadline)
and after ``KEPT_SECONDS`` in any case. The page's permission checks are never kept: the
view makes them on every request before it asks for the part.

Nothing is kept outside a request, where the cache is not shared by every process that
writes (the demo), or after the request changed someone's standing in a transaction not
yet committed; the part is then worked out every time.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.core.cache import cache
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from portal import access, per_request
from portal.members import standing

from .panels import (
    KEPT_SECONDS,
    generation,
    remember_generations,
    seen_through_of,
    unread_generations,
)

T = TypeVar("T")

# What ``read_ahead`` read for the parts a page asks for next, in this request.
_READ_AHEAD = "kept-read-ahead"
# The keys of the parts asked for in this request.
_KEYS = "kept-keys"
# What the page at each address read ahead when this process last served it (read_with):
# the most recently served addresses only.
_ASKED_AT: OrderedDict[str, tuple[str, tuple]] = OrderedDict()
_ASKED_AT_LOCK = threading.Lock()
ASKED_AT_MOST = 5_000

# The HTML of the part and the moment it stops being true by itself (None: no such moment).
WorkedOut = tuple[str, datetime | None]


def kept_part(
    request,
    label: str,
    name: str,
    work_out: Callable[[], WorkedOut],
    *,
    personal: bool,
    vary: tuple = (),
) -> SafeString:
    """Part ``name`` of plugin ``label``'s page, from the cache or ``work_out()``."""
    if not per_request.active() or not standing.shared_by_every_process():
        return mark_safe(work_out()[0])  # noqa: S308 - the page's own template rendered it
    key, made_in = _key(request, label, name, personal, vary), generation(label, not personal)
    html = _read(key, made_in)
    if html is None:
        html, fresh_until = work_out()
        seconds = KEPT_SECONDS
        if fresh_until is not None:
            seconds = min(seconds, (fresh_until - timezone.now()).total_seconds())
        if seconds >= 1 and standing.settled():
            cache.set(key, (made_in, str(html)), int(seconds))
    return mark_safe(html)  # noqa: S308 - the page's own template rendered it


def kept_value(
    label: str, name: str, work_out: Callable[[], T], *, vary: tuple = (), request=None
) -> T:
    """What everyone reads alike on plugin ``label``'s pages, kept as a shared part is but
    as a value (pickled by the cache) rather than HTML: say, the few rows a page reads
    with a query that costs more to build than the page to render. Given the ``request``,
    the value is the person's own, kept as their own parts are (a row of theirs that the
    page reads on every visit, such as their enrolment in a course); the decisions made
    from it are still the page's, on every request."""
    if not per_request.active() or not standing.shared_by_every_process():
        return work_out()
    personal = request is not None
    key, made_in = _key(request, label, name, personal, vary), generation(label, not personal)
    found = _read(key, made_in)
    if found is None:
        found = (work_out(),)  # in a tuple: an empty list is kept too
        if standing.settled():
            cache.set(key, (made_in, found), KEPT_SECONDS)
    return found[0]


def read_ahead(request, label: str, parts: list[tuple[str, bool, tuple]]) -> None:
    """The parts and values of plugin ``label`` that this page is about to ask for, each
    as ``(name, personal, vary)``, read from the cache in one round trip rather than one
    each, with the generations they must have been made in; ``kept_part`` and
    ``kept_value`` then take them from what was read. The page's address remembers them,
    so that its next visit reads them with its route hint (``read_with``)."""
    if not per_request.active() or not standing.shared_by_every_process():
        return
    _remember_asked(request.path, label, parts)
    ahead = per_request.remember(_READ_AHEAD, dict)
    generations = unread_generations(label, [not personal for _name, personal, _v in parts])
    keys = [_key(request, label, name, personal, vary) for name, personal, vary in parts]
    unread = [key for key in keys if key not in ahead]
    if generations or unread:
        found = cache.get_many([*generations, *unread])
        remember_generations(generations, found)
        ahead.update({key: found.get(key) for key in unread})


def read_with(request, keys: list[str]) -> dict:
    """``keys`` from the cache (the caller's: a page's route hint), in one round trip with
    what the page at this address read ahead when this process last served it. A page
    that now asks for other parts reads those itself; what it no longer asks for is
    dropped with the request."""
    asked = _ASKED_AT.get(request.path) if per_request.active() else None
    if asked is None:
        return cache.get_many(keys)
    label, parts = asked
    if not request.user.is_authenticated:
        parts = tuple(part for part in parts if not part[1])  # no one's own parts
    generations = unread_generations(label, [not personal for _name, personal, _v in parts])
    part_keys = [_key(request, label, name, personal, vary) for name, personal, vary in parts]
    found = cache.get_many([*keys, *generations, *part_keys])
    remember_generations(generations, found)
    per_request.remember(_READ_AHEAD, dict).update({key: found.get(key) for key in part_keys})
    return {key: found[key] for key in keys if key in found}


def _remember_asked(path: str, label: str, parts: list) -> None:
    with _ASKED_AT_LOCK:  # a process serves several requests at once (threads)
        _ASKED_AT[path] = (label, tuple(parts))
        _ASKED_AT.move_to_end(path)
        while len(_ASKED_AT) > ASKED_AT_MOST:
            _ASKED_AT.popitem(last=False)


def _read(key: str, made_in: str):
    """What is kept under ``key`` (as read ahead in this request, else from the cache),
    if it was made in generation ``made_in``, the plugin's current one: an entry made
    before a write moved the generation on is stale."""
    ahead = per_request.remember(_READ_AHEAD, dict)
    entry = ahead.pop(key) if key in ahead else cache.get(key)
    if entry is None or entry[0] != made_in:
        return None
    return entry[1]


def _key(request, label: str, name: str, personal: bool, vary: tuple) -> str:
    """One entry per part and what it is seen through; the generation it was made in is
    kept inside it (``_read``), so the page reads the two in the same round trip. Worked
    out once per request (``read_ahead`` and the part itself both ask), again if what it
    is seen through changed meanwhile (the language, or the person's standing)."""
    keys = per_request.remember(_KEYS, dict)
    seen = (translation.get_language(), timezone.get_current_timezone_name())
    if personal:
        seen += (standing.version(request.user),)
    asked = (label, name, personal, vary, seen)
    if asked not in keys:
        keys[asked] = _work_out_key(request, label, name, personal, vary)
    return keys[asked]


def _work_out_key(request, label: str, name: str, personal: bool, vary: tuple) -> str:
    seen = repr([translation.get_language(), timezone.get_current_timezone_name()])
    if personal:
        seen += seen_through_of(request, access.memberships_of(request.user))
    digest = hashlib.sha256(f"{seen}|{vary!r}".encode()).hexdigest()[:32]
    return f"concord:kept:{label}:{name}:{'own' if personal else 'shared'}:{digest}"
