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
from .roles import CONSORTIUM_ADMIN, all_permissions, permissions_of_role


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
    """Rewrite the role-derived grants of these users to match their memberships."""
    user_ids = set(user_ids)
    if not user_ids:
        return
    perm_ids = ensure_permissions()
    role_perms: dict[str, set[int]] = {}
    with transaction.atomic():
        for user_id in user_ids:
            desired: set[tuple[int, int]] = set()
            memberships = Membership.objects.filter(user_id=user_id).exclude(role=CONSORTIUM_ADMIN)
            by_role: dict[str, list[str]] = {}
            for role, path in memberships.values_list("role", "library__path"):
                by_role.setdefault(role, []).append(path)
            for role, paths in by_role.items():
                if role not in role_perms:
                    role_perms[role] = {perm_ids[p] for p in permissions_of_role(role)}
                subtree = reduce(or_, (Q(path__startswith=p) for p in paths))
                for library_id in MemberLibrary.objects.filter(subtree).values_list(
                    "pk", flat=True
                ):
                    desired.update((perm_id, library_id) for perm_id in role_perms[role])
            existing = set(
                MemberLibraryUserObjectPermission.objects.filter(
                    user_id=user_id, from_role=True
                ).values_list("permission_id", "content_object_id")
            )
            stale = existing - desired
            if stale:
                stale_q = reduce(
                    or_, (Q(permission_id=p, content_object_id=lib) for p, lib in stale)
                )
                MemberLibraryUserObjectPermission.objects.filter(
                    stale_q, user_id=user_id, from_role=True
                ).delete()
            MemberLibraryUserObjectPermission.objects.bulk_create(
                [
                    MemberLibraryUserObjectPermission(
                        user_id=user_id, permission_id=p, content_object_id=lib
                    )
                    for p, lib in desired - existing
                ],
                ignore_conflicts=True,
                batch_size=1000,
            )


def users_below(library: MemberLibrary) -> set[int]:
    """Users whose memberships reach ``library`` (held on it or an ancestor)."""
    return set(
        Membership.objects.filter(library__path__in=library.ancestor_paths()).values_list(
            "user_id", flat=True
        )
    )
