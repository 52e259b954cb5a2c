"""The office shapes roles: creates, renames, re-permissions and retires them (check/do).

Changing what a role carries changes what everyone holding it may do, so the grants are
rebuilt (``grants.rebuild_role_grants``): at once for a role few people hold, in the
background after commit for a role held across a large consortium. Every change is one
audit entry naming the role, who changed it and what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from portal.audit.services import record_on_commit
from portal.background import enqueue

from . import access
from .exceptions import ActionRefused
from .grants import ensure_permissions, rebuild_role_grants
from .models import Appointment, MemberLibrary, Membership, Role
from .roles import CONSORTIUM_ADMIN, all_permissions, forget_definitions
from .signals import memberships_rebuilt

# Up to this many holders the grants are rebuilt inside the edit's own transaction, so
# the change is in force when the page comes back; above it a worker does it.
INLINE_REBUILD_HOLDERS = 2000


@dataclass
class RoleShape:
    """What the office says a role is (the admin form's cleaned data)."""

    name: str
    description: str = ""
    permissions: set[str] = field(default_factory=set)  # "plugin.codename"
    library_kinds: list[str] = field(default_factory=list)
    library_types: list[str] = field(default_factory=list)
    requires_mfa: bool = False
    appointed_by: set[str] = field(default_factory=set)  # role codes
    retired: bool = False

    @classmethod
    def of(cls, role: Role) -> RoleShape:
        return cls(
            name=role.name,
            description=role.description,
            permissions={p.codename for p in role.permissions.all()},
            library_kinds=list(role.library_kinds or ()),
            library_types=list(role.library_types or ()),
            requires_mfa=role.requires_mfa,
            appointed_by={r.code for r in role.appointed_by.all()},
            retired=role.retired,
        )


def _check_office(actor) -> None:
    if not access.is_consortium_admin(actor):
        raise ActionRefused(_("Only the consortium office shapes roles."), code="permission")


def _check_shape(shape: RoleShape, role: Role | None) -> None:
    name = (shape.name or "").strip()
    if not name:
        raise ActionRefused(_("Give the role a name."), code="name")
    clash = Role.objects.filter(name__iexact=name)
    if role is not None:
        clash = clash.exclude(pk=role.pk)
    if clash.exists():
        raise ActionRefused(
            _("There is already a role called “%(name)s”.") % {"name": name}, code="name"
        )
    unknown = shape.permissions - set(all_permissions())
    if unknown:
        raise ActionRefused(
            _("No module offers the permission %(perms)s.") % {"perms": ", ".join(sorted(unknown))},
            code="permission_unknown",
        )
    kinds = set(MemberLibrary.Kind.values)
    types = set(MemberLibrary.LibraryType.values)
    if set(shape.library_kinds) - kinds or set(shape.library_types) - types:
        raise ActionRefused(_("Choose kinds and types of library from the list."), code="kind")
    appointers = Role.objects.filter(code__in=shape.appointed_by).values_list("code", flat=True)
    if shape.appointed_by - set(appointers):
        raise ActionRefused(_("Only existing roles may appoint a role."), code="appointed_by")


def check_create_role(actor, code: str, shape: RoleShape) -> None:
    _check_office(actor)
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_slug

    try:
        validate_slug(code)
    except ValidationError:
        raise ActionRefused(
            _("A role's code is letters, digits, hyphens and underscores."), code="code"
        ) from None
    if Role.objects.filter(code=code).exists():
        raise ActionRefused(
            _("There is already a role with the code “%(code)s”.") % {"code": code}, code="code"
        )
    _check_shape(shape, None)


def check_retire_role(role: Role) -> None:
    """A role may be retired only when nobody holds it or has been offered it."""
    if role.code == CONSORTIUM_ADMIN:
        raise ActionRefused(
            _("%(role)s cannot be retired: the consortium office works through it.")
            % {"role": role.name},
            code="retire_office",
        )
    holders = Membership.objects.filter(role=role.code).count()
    offers = Appointment.objects.filter(role=role.code, state=Appointment.State.PENDING).count()
    if holders or offers:
        raise ActionRefused(
            _(
                "%(role)s cannot be retired while people hold it (%(holders)d) or have been "
                "offered it (%(offers)d). Remove them or give them another role first."
            )
            % {"role": role.name, "holders": holders, "offers": offers},
            code="retire_held",
        )


def check_edit_role(actor, role: Role, shape: RoleShape) -> None:
    _check_office(actor)
    _check_shape(shape, role)
    if shape.retired and not role.retired:
        check_retire_role(role)


def do_create_role(actor, code: str, shape: RoleShape) -> Role:
    """A new role, held by nobody yet; audited."""
    with transaction.atomic():
        check_create_role(actor, code, shape)
        role = Role.objects.create(code=code, name=shape.name.strip())
        _apply(role, shape, ensure_permissions())
        record_on_commit(
            "role.created",
            actor=actor,
            obj=role,
            data={"role": code, "name": role.name, "permissions": sorted(shape.permissions)},
        )
    return role


def do_edit_role(actor, role: Role, shape: RoleShape) -> Role:
    """Reshape ``role``; the grants of everyone holding it follow. Audited with what was
    added and taken away."""
    with transaction.atomic():
        role = Role.objects.select_for_update().get(pk=role.pk)
        check_edit_role(actor, role, shape)
        before = RoleShape.of(role)
        shape.name = role.name = shape.name.strip()
        perm_ids = ensure_permissions()
        _apply(role, shape, perm_ids)
        added = shape.permissions - before.permissions
        removed = before.permissions - shape.permissions
        changed = {
            name: [_plain(getattr(before, name)), _plain(getattr(shape, name))]
            for name in (
                "name",
                "description",
                "library_kinds",
                "library_types",
                "requires_mfa",
                "appointed_by",
                "retired",
            )
            if _plain(getattr(before, name)) != _plain(getattr(shape, name))
        }
        record_on_commit(
            "role.changed",
            actor=actor,
            obj=role,
            data={
                "role": role.code,
                "permissions_added": sorted(added),
                "permissions_removed": sorted(removed),
                **changed,
            },
        )
        if added or removed:
            schedule_rebuild(role.code, {perm_ids[p] for p in added | removed})
    return role


def _plain(value):
    return sorted(value) if isinstance(value, set | list) else value


def _apply(role: Role, shape: RoleShape, perm_ids: dict[str, int]) -> None:
    role.description = shape.description
    role.library_kinds = sorted(shape.library_kinds)
    role.library_types = sorted(shape.library_types)
    role.requires_mfa = shape.requires_mfa
    role.retired = shape.retired
    role.save()
    role.permissions.set([perm_ids[p] for p in shape.permissions])
    role.appointed_by.set(Role.objects.filter(code__in=shape.appointed_by))
    forget_definitions()


def schedule_rebuild(role_code: str, permission_ids: set[int]) -> None:
    """Rebuild the grants of ``permission_ids`` for the holders of ``role_code``: now, or
    by a worker once this transaction commits when many people hold the role."""
    limit = getattr(settings, "CONCORD_INLINE_REBUILD_HOLDERS", INLINE_REBUILD_HOLDERS)
    if Membership.objects.filter(role=role_code).count() <= limit:
        rebuild_and_announce(role_code, permission_ids)
        return
    ids = sorted(permission_ids)
    transaction.on_commit(lambda: enqueue("members.rebuild_role_grants", role_code, ids))


def rebuild_and_announce(role_code: str, permission_ids) -> int:
    """Rebuild the grants, then let plugins rebuild what they keep in step with what people
    may do (the admin's doors): the same signal as after memberships written in bulk."""
    touched = rebuild_role_grants(role_code, permission_ids)
    holders = Membership.objects.filter(role=role_code).values_list("user_id", flat=True)
    memberships_rebuilt.send(sender=Role, user_ids=list(holders))
    return touched
