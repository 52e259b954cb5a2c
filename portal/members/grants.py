"""Resolve memberships into guardian object permissions, down the tree.

A role held on a library grants its permissions on that library and every descendant.
Consortium-wide roles are not copied here: ``portal.access`` checks them at the root.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q

from .models import MemberLibrary, MemberLibraryUserObjectPermission, Membership
from .roles import CONSORTIUM_ADMIN, ROLES, all_permissions, permissions_of_role


def ensure_permissions() -> dict[str, int]:
    """Create the Permission rows for every core and plugin permission; ``{name: id}``."""
    content_type = ContentType.objects.get_for_model(MemberLibrary)
    existing = {p.codename: p.pk for p in Permission.objects.filter(content_type=content_type)}
    missing = [
        Permission(content_type=content_type, codename=name, name=str(label)[:255])
        for name, (label, _roles) in all_permissions().items()
        if name not in existing
    ]
    for perm in Permission.objects.bulk_create(missing, ignore_conflicts=True):
        existing[perm.codename] = perm.pk
    if any(p.pk is None for p in missing):
        existing = {p.codename: p.pk for p in Permission.objects.filter(content_type=content_type)}
    return existing


def sync_grants(user_ids: Iterable[int]) -> None:
    """Rewrite the role-derived grants of these users to match their memberships.

    A constant number of queries whatever the number of users: memberships, the library
    paths below them, the existing rows, then one delete and one bulk insert.
    """
    user_ids = set(user_ids)
    if not user_ids:
        return
    perm_ids = ensure_permissions()
    role_perms = {
        role: {perm_ids[p] for p in permissions_of_role(role)}
        for role in ROLES
        if role != CONSORTIUM_ADMIN
    }
    with transaction.atomic():
        memberships = list(
            Membership.objects.filter(user_id__in=user_ids)
            .exclude(role=CONSORTIUM_ADMIN)
            .values_list("user_id", "role", "library__path")
        )
        held_paths = {path for _user, _role, path in memberships}
        subtree_of: dict[str, list[int]] = {path: [] for path in held_paths}
        if held_paths:
            subtree = reduce(or_, (Q(path__startswith=p) for p in _outermost(held_paths)))
            for pk, path in MemberLibrary.objects.filter(subtree).values_list("pk", "path"):
                for held in held_paths:
                    if path.startswith(held):
                        subtree_of[held].append(pk)
        desired = {
            (user_id, perm_id, library_id)
            for user_id, role, path in memberships
            for library_id in subtree_of[path]
            for perm_id in role_perms.get(role, ())
        }
        rows = MemberLibraryUserObjectPermission.objects.filter(
            user_id__in=user_ids, from_role=True
        ).values_list("pk", "user_id", "permission_id", "content_object_id")
        existing = {(user_id, perm_id, lib_id): pk for pk, user_id, perm_id, lib_id in rows}
        stale = [pk for key, pk in existing.items() if key not in desired]
        if stale:
            MemberLibraryUserObjectPermission.objects.filter(pk__in=stale).delete()
        MemberLibraryUserObjectPermission.objects.bulk_create(
            [
                MemberLibraryUserObjectPermission(
                    user_id=user_id, permission_id=perm_id, content_object_id=library_id
                )
                for user_id, perm_id, library_id in desired - existing.keys()
            ],
            ignore_conflicts=True,
            batch_size=5000,
        )


def _outermost(paths: set[str]) -> list[str]:
    """Drop paths that lie inside another one, to keep the subtree query short."""
    ordered = sorted(paths)
    kept: list[str] = []
    for path in ordered:
        if not kept or not path.startswith(kept[-1]):
            kept.append(path)
    return kept


def users_below(library: MemberLibrary) -> set[int]:
    """Users whose memberships reach ``library`` (held on it or an ancestor)."""
    return set(
        Membership.objects.filter(library__path__in=library.ancestor_paths()).values_list(
            "user_id", flat=True
        )
    )
