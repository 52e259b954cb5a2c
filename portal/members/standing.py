"""A person's standing, kept between requests: what every signed-in page reads about them.

Each page a signed-in person opens needs their memberships (with the libraries), their
grants (every decision of ``access.can``, and the navigation), whether Wagtail's admin
would let them in (the Admin link) and, for roles that require it, whether they have a
second factor. These
change seldom, so within a request they are read from the shared cache, one round trip for
all of them (with the roles' change stamp), and from the database only when the entry is
missing or stale.

An entry is stale when the roles changed (the roles' stamp), when any member library or a
group's permissions changed (the standing stamp, bumped here) and when the person's own
memberships, grants, groups or authenticators change (their generation, moved on by the
receivers below, and by :func:`forget_people` from the writers that bypass signals:
``grants.sync_grants`` and whoever sends ``memberships_rebuilt``). It moves on at once and
again when the transaction commits; what a request read before a change and wrote after it
carries the old generation and is never used. Nothing
is written to the cache by a request after it changed someone's standing inside a
transaction that has not committed (it might yet roll back).

Outside a request (Celery tasks, the shell, services under test) nothing is kept: every
read goes to the database, as decisions there always did.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Callable, Iterable
from typing import TypeVar

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from portal import per_request

from .models import MemberLibrary, MemberLibraryUserObjectPermission, Membership
from .roles import remember_stamp_with
from .signals import memberships_rebuilt

T = TypeVar("T")

_STAMP = "concord:standing:stamp"
# A safety net: an entry lives a day at most, whatever happens.
_SECONDS = 24 * 60 * 60
_ON_USER = "_concord_standing"
# Set when this request changed someone's standing inside a transaction not yet committed:
# what it reads from then on may yet be rolled back, so it is not kept.
_UNSETTLED = "standing-unsettled"
# Whose standing this request changed (user ids, or everyone's).
_CHANGED_HERE = "standing-changed-here"
_EVERYONE = "everyone"
# Keys that most signed-in pages read besides the standing (the plugin switches), read in
# the standing's own round trip: ``read_along`` names them, ``taken_along`` hands them out.
_ALONG: list[str] = []
_FOUND_ALONG = "standing-found-along"


def _unsettled() -> None:
    if connection.in_atomic_block:
        per_request.remember(_UNSETTLED, lambda: True)


def _key(user_id) -> str:
    return f"concord:standing:{user_id}"


def _generation_key(user_id) -> str:
    return f"concord:standing:generation:{user_id}"


def shared_by_every_process() -> bool:
    """Whether what is kept in the cache is seen by every process that writes: a cache
    outside the process (Redis in production), or one process doing all the work (tasks
    run eagerly: the tests). The demo's in-process cache, with a Celery worker beside the
    web server, keeps nothing between requests: the worker's writes would not reach it."""
    backend = settings.CACHES["default"]["BACKEND"]
    in_process = backend.endswith(("LocMemCache", "DummyCache"))
    return not in_process or getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)


def keeps(user) -> bool:
    """Whether ``kept`` keeps anything for ``user`` here: inside a request, for a person,
    with a cache every process shares, whose standing this request has not changed (what
    it read before the change is stale: from then on it reads the database)."""
    return (
        per_request.active()
        and bool(getattr(user, "pk", None))
        and shared_by_every_process()
        and not _changed_here(user.pk)
    )


def _changed_here(user_id) -> bool:
    changed = per_request.remember(_CHANGED_HERE, set) if per_request.active() else set()
    return user_id in changed or _EVERYONE in changed


def kept(user, name: str, compute: Callable[[], T]) -> T:
    """``compute()`` for ``user``, kept in the person's standing between requests."""
    if not keeps(user):
        return compute()
    entry = _entry(user)
    if name not in entry["live"]:
        if name in entry["stored"]:
            value = pickle.loads(entry["stored"][name])  # noqa: S301 - our own cache's bytes
        else:
            value = compute()
            # Kept as bytes, as read: the request may attach things to these objects later
            # (a library's plugin switches) that must not be written back with the rest.
            entry["stored"][name] = pickle.dumps(value)
            if settled():
                cache.set(_key(user.pk), _kept_part(entry), _SECONDS)
        entry["live"][name] = value
    return entry["live"][name]


def _kept_part(entry: dict) -> dict:
    return {k: entry[k] for k in ("stamps", "version", "stored")}


def _entry(user) -> dict:
    entry = user.__dict__.get(_ON_USER)
    if entry is None:
        entry = user.__dict__[_ON_USER] = _read(user.pk)
    return entry


def version(user) -> str:
    """Changes whenever the person's standing is read afresh (what pages keep for them
    depends on it); inside a request only."""
    entry = _entry(user)
    if not entry["stored"] and settled():
        cache.set(_key(user.pk), _kept_part(entry), _SECONDS)
    return entry["version"]


def settled() -> bool:
    """False once this request changed someone's standing in a transaction not yet
    committed: then nothing it reads should be kept."""
    return not per_request.remembered(_UNSETTLED)


def read_along(*keys: str) -> None:
    """Read ``keys`` from the shared cache with every standing (at start-up)."""
    _ALONG.extend(key for key in keys if key not in _ALONG)


def taken_along(keys: list[str]) -> dict | None:
    """What this request's standing read found under ``keys`` (named by ``read_along``),
    handed out once: None where it was not read (no one signed in, nothing kept) or was
    handed out already, and then the caller reads the keys itself."""
    found = per_request.remember(_FOUND_ALONG, dict)
    if not all(key in found for key in keys):
        return None
    return {key: found.pop(key) for key in keys}


def forget_along(*keys: str) -> None:
    """What the standing's read found under ``keys`` is stale (the request changed it)."""
    found = per_request.remember(_FOUND_ALONG, dict)
    for key in keys:
        found.pop(key, None)


def _read(user_id) -> dict:
    roles_stamp, found = remember_stamp_with(
        _STAMP, _generation_key(user_id), _key(user_id), *_ALONG
    )
    if per_request.active():
        per_request.remember(_FOUND_ALONG, dict).update({key: found.get(key) for key in _ALONG})
    stamp = found.get(_STAMP) or current_or_new(_STAMP)
    # The person's own generation, moved on by forget_people: an entry that a request read
    # from the database before a change and wrote after it carries the old one.
    generation = found.get(_generation_key(user_id)) or current_or_new(_generation_key(user_id))
    stamps = (roles_stamp, stamp, generation)
    entry = found.get(_key(user_id))
    if isinstance(entry, dict) and "version" not in entry:
        entry = None
    # An entry of another shape (kept by an older release) is read afresh too.
    if not isinstance(entry, dict) or entry.get("stamps") != stamps:
        entry = {"stamps": stamps, "version": uuid.uuid4().hex, "stored": {}}
    return {**entry, "live": {}}


def current_or_new(key: str) -> str:
    """The value under ``key`` (a stamp or a generation, kept without expiry): a new random
    one if there is none, or the one another process just put there."""
    value = uuid.uuid4().hex
    if not cache.add(key, value, None):
        value = cache.get(key) or value
    return value


def move_on(*keys: str) -> None:
    """What is kept under these generations (or stamps) is stale: now, and again when the
    transaction commits, so what another process read in between is never used. A request
    that did so inside a transaction not yet committed keeps nothing more (``settled``)."""

    def bump():
        cache.set_many({key: uuid.uuid4().hex for key in keys}, None)

    _unsettled()
    bump()
    transaction.on_commit(bump)


def forget_people(user_ids: Iterable[int]) -> None:
    """Drop these people's kept standing, now and once the transaction commits."""
    user_ids = {pk for pk in user_ids if pk is not None}
    if user_ids:
        _changed_in_request(user_ids)
        move_on(*[_generation_key(pk) for pk in user_ids])


def forget_everyone() -> None:
    """Make every kept standing stale (a library or a group's permissions changed)."""
    _changed_in_request({_EVERYONE})
    move_on(_STAMP)


def _changed_in_request(marks: set) -> None:
    if per_request.active():
        per_request.remember(_CHANGED_HERE, set).update(marks)


def forget_user(user) -> None:
    """Drop what this request kept on ``user`` (after changing their standing)."""
    user.__dict__.pop(_ON_USER, None)


@receiver([post_save, post_delete], sender=Membership)
def _membership_changed(sender, instance, **kwargs):
    forget_people([instance.user_id])


@receiver([post_save, post_delete], sender=MemberLibraryUserObjectPermission)
def _grant_changed(sender, instance, **kwargs):
    # A grant written by hand (an exception the sync leaves alone): decisions read the
    # kept grants (access.can), so the person's standing goes at once.
    forget_people([instance.user_id])


@receiver([post_save, post_delete], sender=Authenticator)
def _authenticator_changed(sender, instance, **kwargs):
    forget_people([instance.user_id])


@receiver([post_save, post_delete], sender=settings.AUTH_USER_MODEL)
def _user_changed(sender, instance, **kwargs):
    forget_people([instance.pk])


@receiver([post_save, post_delete], sender=MemberLibrary)
def _library_changed(sender, **kwargs):
    forget_everyone()


@receiver(m2m_changed, sender=Group.permissions.through)
def _group_permissions_changed(sender, action, **kwargs):
    if action.startswith("post_"):
        forget_everyone()


def connect_groups(user_model) -> None:
    """Hear who joins or leaves a group, or is given a permission of their own (the Admin
    link), once the user model is known."""
    for through in (user_model.groups.through, user_model.user_permissions.through):
        m2m_changed.connect(_groups_changed, sender=through, dispatch_uid=f"standing.{through}")


def _groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if not reverse:
        forget_people([instance.pk])
    elif pk_set:
        forget_people(pk_set)
    else:  # a group's people cleared: who they were is no longer known
        forget_everyone()


@receiver(memberships_rebuilt)
def _rebuilt(sender, user_ids, **kwargs):
    forget_people(user_ids)
