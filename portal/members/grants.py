"""Resolve memberships into guardian object permissions, down the tree.

A role held on a library grants its permissions on that library and every descendant.
Consortium-wide roles are not copied here: ``portal.access`` checks them at the root.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Q

from .models import MemberLibrary, MemberLibraryUserObjectPermission, Membership, Role
from .roles import (
    BUILTIN_DEFAULTS,
    CONSORTIUM_ADMIN,
    ROLES,
    all_permissions,
    definitions,
    forget_definitions,
)
from .standing import forget_people


def ensure_builtin_roles() -> None:
    """Create any built-in role that is missing, with its default permissions.

    The data migration made them on an existing site; this puts them back on a database
    that was emptied since (``flush``), so the core's codes always name a role.
    """
    present = set(Role.objects.filter(code__in=ROLES).values_list("code", flat=True))
    missing = [code for code in ROLES if code not in present]
    if not missing:
        return
    mfa = set(getattr(settings, "CONCORD_MFA_REQUIRED_ROLES", ()))
    created = {}
    for code in missing:
        defaults = BUILTIN_DEFAULTS[code]
        created[code] = Role.objects.create(
            code=code,
            name=str(ROLES[code]),
            library_kinds=defaults["kinds"],
            requires_mfa=code in mfa or defaults["mfa"],
        )
    by_code = {r.code: r for r in Role.objects.filter(code__in=ROLES)}
    for code, role in created.items():
        role.appointed_by.set([by_code[c] for c in BUILTIN_DEFAULTS[code]["appointed_by"]])
    perm_ids = ensure_permissions(distribute=False)
    through = Role.permissions.through
    through.objects.bulk_create(
        [
            through(role_id=created[code].pk, permission_id=perm_ids[name])
            for name, (_label, default_roles) in all_permissions().items()
            for code in default_roles
            if code in created
        ],
        ignore_conflicts=True,
    )
    forget_definitions()


def ensure_permissions(distribute: bool = True) -> dict[str, int]:
    """Create the Permission rows for every core and plugin permission; ``{name: id}``.

    A permission seen for the first time (a plugin just installed) goes to the roles its
    plugin names as defaults; from then on which roles carry it is the office's choice.
    """
    on_libraries = Permission.objects.filter(
        content_type__app_label=MemberLibrary._meta.app_label,
        content_type__model=MemberLibrary._meta.model_name,
    )
    existing = {p.codename: p.pk for p in on_libraries}
    declared = all_permissions()
    if not set(declared) - set(existing):
        return existing
    # Read afresh, not from the process's cache: the row may have been recreated since (a
    # flushed database) and a stale id would break the foreign key.
    ContentType.objects.clear_cache()
    content_type = ContentType.objects.get_for_model(MemberLibrary)
    missing = [
        Permission(content_type=content_type, codename=name, name=str(label)[:255])
        for name, (label, _roles) in declared.items()
        if name not in existing
    ]
    if not missing:
        return existing
    Permission.objects.bulk_create(missing, ignore_conflicts=True)
    existing = {p.codename: p.pk for p in on_libraries.all()}  # read again, not the cache
    if distribute:
        _give_to_default_roles({p.codename for p in missing}, existing, declared)
    return existing


def _give_to_default_roles(names: set[str], perm_ids: dict[str, int], declared: dict) -> None:
    role_ids = dict(Role.objects.values_list("code", "pk"))
    through = Role.permissions.through
    rows = [
        through(role_id=role_ids[code], permission_id=perm_ids[name])
        for name in names
        for code in declared[name][1]
        if code in role_ids
    ]
    if not rows:
        return
    through.objects.bulk_create(rows, ignore_conflicts=True)
    forget_definitions()
    for code in {code for name in names for code in declared[name][1] if code in role_ids}:
        rebuild_role_grants(code, {perm_ids[n] for n in names if code in declared[n][1]})


def sync_grants(user_ids: Iterable[int]) -> None:
    """Rewrite the role-derived grants of these users to match their memberships.

    A constant number of queries whatever the number of users: memberships, the library
    paths below them, the existing rows, then one delete and one bulk insert.
    """
    user_ids = set(user_ids)
    if not user_ids:
        return
    forget_people(user_ids)
    perm_ids = ensure_permissions()
    role_perms = {
        code: {perm_ids[p] for p in role.permissions if p in perm_ids}
        for code, role in definitions().items()
        if code != CONSORTIUM_ADMIN
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
            # Plain statements, without the per-row post_delete that a queryset's delete
            # sends once anyone listens (standing does, for grants written by hand): these
            # people's standing was dropped above. In chunks within SQLite's parameters.
            table = MemberLibraryUserObjectPermission._meta.db_table
            with connection.cursor() as cursor:
                for start in range(0, len(stale), 900):
                    chunk = stale[start : start + 900]
                    marks = ", ".join(["%s"] * len(chunk))
                    cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks})", chunk)  # noqa: S608
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


def rebuild_role_grants(role: str, permission_ids: Iterable[int]) -> int:
    """Bring the grants of ``permission_ids`` in line with the roles, for everyone holding
    ``role``: after the office added those permissions to the role or took them away.

    Two statements whatever the size of the consortium: one deletes the grants no role
    still justifies (another role of the same person may), one inserts the missing ones
    for every library at or below where the role is held. Returns the rows touched.
    """
    permission_ids = sorted(set(permission_ids))
    if not permission_ids or role == CONSORTIUM_ADMIN:
        return 0
    grant = MemberLibraryUserObjectPermission._meta.db_table
    membership = Membership._meta.db_table
    library = MemberLibrary._meta.db_table
    role_table = Role._meta.db_table
    role_perm = Role.permissions.through._meta.db_table
    perms = ", ".join(["%s"] * len(permission_ids))
    # Only table names (from the models) and placeholders are interpolated: the values are
    # parameters. "lib is at or below held": a path starts with every ancestor's path.
    below = "SUBSTR(lib.path, 1, LENGTH(held.path)) = held.path"
    justified = f"""
        SELECT 1 FROM {membership} m
        JOIN {role_table} r ON r.code = m.role
        JOIN {role_perm} rp ON rp.role_id = r.id AND rp.permission_id = g.permission_id
        JOIN {library} held ON held.id = m.library_id
        JOIN {library} lib ON lib.id = g.content_object_id
        WHERE m.user_id = g.user_id AND m.role <> %s AND {below}
    """  # noqa: S608
    delete = f"""
        DELETE FROM {grant} WHERE id IN (
            SELECT g.id FROM {grant} g
            WHERE g.from_role AND g.permission_id IN ({perms})
              AND g.user_id IN (SELECT user_id FROM {membership} WHERE role = %s)
              AND NOT EXISTS ({justified})
        )
    """  # noqa: S608
    # The pairs (library where the role is held, library at or below it) are a few hundred
    # rows for the memberships to join by equality, rather than every membership being
    # compared with every library.
    insert = f"""
        INSERT INTO {grant} (user_id, permission_id, content_object_id, from_role)
        SELECT DISTINCT m.user_id, rp.permission_id, reach.lib_id, %s
        FROM {membership} m
        JOIN {role_table} r ON r.code = m.role
        JOIN {role_perm} rp ON rp.role_id = r.id
        JOIN (
            SELECT held.id AS held_id, lib.id AS lib_id
            FROM {library} held JOIN {library} lib ON {below}
            WHERE held.id IN (SELECT library_id FROM {membership} WHERE role = %s)
        ) reach ON reach.held_id = m.library_id
        WHERE m.role = %s AND rp.permission_id IN ({perms})
        ON CONFLICT DO NOTHING
    """  # noqa: S608
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(delete, [*permission_ids, role, CONSORTIUM_ADMIN])
        touched = max(cursor.rowcount, 0)
        cursor.execute(insert, [True, role, role, *permission_ids])
        touched += max(cursor.rowcount, 0)
    return touched


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
