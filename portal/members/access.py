"""The one answer to "may this user do P for member library L?".

Every app asks through ``portal.access``, which is this module: it reads the member
libraries' memberships, roles, grants and switches, so it lives in their app, below the
app's own services and pages (which import it from here). Views, the API, templates and
Celery tasks ask; nothing else reads memberships to make a decision. Which permissions a
role carries is the office's to shape (``roles``); the decision here reads the grants that
follow from it. Permissions are named ``"<plugin>.<codename>"`` (``"portal.*"`` for the
core's own). A grant reaches a library from a role held on it or on any ancestor (resolved
into guardian rows by ``grants``); consortium administrators are checked at the root; and
a plugin switched off for a library grants nothing there.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from . import standing
from .models import MemberLibrary, MemberLibraryUserObjectPermission, Membership
from .roles import CONSORTIUM_ADMIN, definitions, permissions_of_role, plugin_of
from .switches import (
    enabled_everywhere,
    enabled_filter,
    enabled_plugins_by_library,
    plugin_enabled,
)


def memberships_of(user) -> list[Membership]:
    """The user's memberships with their libraries; one query, cached on the user."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = user.__dict__.get("_concord_memberships")
    if cached is None:
        cached = standing.kept(
            user,
            "memberships",
            lambda: list(Membership.objects.filter(user=user).select_related("library")),
        )
        user.__dict__["_concord_memberships"] = cached
    return cached


def forget(user) -> None:
    """Drop the per-request cache after the user's memberships changed."""
    user.__dict__.pop("_concord_memberships", None)
    user.__dict__.pop("_concord_permissions_anywhere", None)
    standing.forget_user(user)


def is_consortium_admin(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or any(m.role == CONSORTIUM_ADMIN for m in memberships_of(user))


def roles_of(user) -> set[str]:
    return {m.role for m in memberships_of(user)}


def requires_mfa(user) -> bool:
    """True when one of the user's roles, as the office defined it, needs a second factor."""
    # The person's roles first: their standing is read with the roles' stamp in one round
    # trip, which the definitions then find remembered (every signed-in page asks this).
    held = roles_of(user)
    roles = definitions()
    return any(roles[code].requires_mfa for code in held if code in roles)


def _admin_has(user, perm: str) -> bool:
    return is_consortium_admin(user) and perm in permissions_of_role(CONSORTIUM_ADMIN)


def can(user, perm: str, library: MemberLibrary | None) -> bool:
    """True when ``user`` may do ``perm`` for ``library``."""
    if library is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not plugin_enabled(plugin_of(perm), library):
        return False
    if _admin_has(user, perm):
        return True
    grants = _kept_grants(user)
    if grants is not None:
        return library.pk in grants.get(perm, ())
    return MemberLibraryUserObjectPermission.objects.filter(
        user=user, permission__codename=perm, content_object=library
    ).exists()


def _kept_grants(user) -> dict[str, frozenset[int]] | None:
    """``{permission: ids of the libraries where the user holds it}``, kept in their
    standing between requests (it goes stale with the grants, their memberships, the roles
    and the libraries: ``standing``); None where nothing is kept (outside a request, or a
    cache of the process's own), and then each decision asks the database."""
    if not standing.keeps(user):
        return None

    def read():
        grants: dict[str, set[int]] = {}
        rows = MemberLibraryUserObjectPermission.objects.filter(user=user).values_list(
            "permission__codename", "content_object_id"
        )
        for codename, library_id in rows:
            grants.setdefault(codename, set()).add(library_id)
        return {codename: frozenset(ids) for codename, ids in grants.items()}

    return standing.kept(user, "grants", read)  # read once per request (the standing's)


def permissions_anywhere(user) -> frozenset[str]:
    """Every permission ``user`` holds for at least one library, in one query (cached on
    the user for the request): what menus and navigation need, not a decision."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = user.__dict__.get("_concord_permissions_anywhere")
    if cached is None:
        grants = _kept_grants(user)
        if grants is not None:
            held = set(grants)
        else:
            held = set(
                MemberLibraryUserObjectPermission.objects.filter(user=user)
                .values_list("permission__codename", flat=True)
                .distinct()
            )
        if is_consortium_admin(user):
            held |= permissions_of_role(CONSORTIUM_ADMIN)
        cached = user.__dict__["_concord_permissions_anywhere"] = frozenset(held)
    return cached


def can_anywhere(user, perm: str) -> bool:
    """True when ``user`` may do ``perm`` for at least one library (menus, links)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    grants = _kept_grants(user)
    if grants is not None and not _admin_has(user, perm):
        if not grants.get(perm):
            return False
        if enabled_everywhere(plugin_of(perm)):
            return True  # no switch to weigh: a grant anywhere is enough
    return libraries_for(user, perm).exists()


def libraries_for(user, perm: str) -> QuerySet[MemberLibrary]:
    """Every member library for which ``user`` may do ``perm``."""
    libraries = MemberLibrary.objects.all()
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return libraries.none()
    enabled = enabled_filter(plugin_of(perm))
    if enabled is None:
        return libraries.none()
    libraries = libraries.filter(enabled)
    if _admin_has(user, perm):
        return libraries
    return libraries.filter(
        memberlibraryuserobjectpermission__user=user,
        memberlibraryuserobjectpermission__permission__codename=perm,
    ).distinct()


def people_with(perm: str, library: MemberLibrary):
    """Everyone who may do ``perm`` for ``library`` (to notify them, say); one query."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    if not plugin_enabled(plugin_of(perm), library):
        return users.none()
    held = Q(
        memberlibraryuserobjectpermission__permission__codename=perm,
        memberlibraryuserobjectpermission__content_object=library,
    )
    if perm in permissions_of_role(CONSORTIUM_ADMIN):
        held |= Q(memberships__role=CONSORTIUM_ADMIN)
    return users.filter(held).distinct()


def people_with_any(perm: str, libraries):
    """Everyone who may do ``perm`` for at least one of ``libraries``, each once.

    For notices to many libraries at once: the people are one query whatever the number
    of libraries (after the two reads of plugin switches that ``people_with`` also makes).
    """
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    libraries = list(libraries)
    label = plugin_of(perm)
    if label != "portal":
        enabled = enabled_plugins_by_library(libraries)
        libraries = [lib for lib in libraries if label in enabled[lib.pk]]
    if not libraries:
        return users.none()
    # One subquery rather than joins: no duplicate rows to remove, whatever the overlap. A
    # UNION, not ``IN a OR IN b``: PostgreSQL cannot make a semi-join of an OR, and on
    # statistics older than the rows it ran the subqueries once per user (80 s a query
    # at 200 libraries in a test run).
    held = MemberLibraryUserObjectPermission.objects.filter(
        permission__codename=perm, content_object__in=[lib.pk for lib in libraries]
    ).values("user_id")
    if perm in permissions_of_role(CONSORTIUM_ADMIN):
        held = held.union(Membership.objects.filter(role=CONSORTIUM_ADMIN).values("user_id"))
    return users.filter(pk__in=held)
