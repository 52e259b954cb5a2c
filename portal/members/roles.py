"""Roles: who a person is for a member library, and what that lets them do.

Roles are rows the consortium office shapes (:class:`~portal.members.models.Role`). The
five built-in roles below are what a new site starts with — a data migration creates them
with exactly these defaults — and the codes the core and plugins name in their default
permissions. After that the office renames them, moves permissions between them, adds its
own roles and retires those it no longer uses.

:func:`definitions` is the read every decision uses: all roles with their permissions,
loaded once per process and reloaded when any role changes (a stamp in Django's cache,
which production keeps in Redis, tells every web and worker process).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from portal import per_request
from portal.plugins import (
    COMMUNICATIONS,
    CONSORTIUM_ADMIN,
    DIRECTOR,
    STAFF,
    TRAINER,
    available_plugins,
)

from .models import Role

# The built-in roles and their labels as first created; the office's names are on the rows.
ROLES = {
    CONSORTIUM_ADMIN: _("Consortium administrator"),
    DIRECTOR: _("Director"),
    STAFF: _("Staff"),
    COMMUNICATIONS: _("Communications"),
    TRAINER: _("Trainer"),
}
ROLE_CHOICES = list(ROLES.items())

# How the built-in roles start out: who may appoint them (the office always may), where
# they may be held (empty: any kind of library) and whether they need a second factor.
BUILTIN_DEFAULTS = {
    CONSORTIUM_ADMIN: {"kinds": ["consortium"], "mfa": True, "appointed_by": []},
    DIRECTOR: {"kinds": [], "mfa": True, "appointed_by": [DIRECTOR]},
    STAFF: {"kinds": [], "mfa": False, "appointed_by": [DIRECTOR]},
    COMMUNICATIONS: {"kinds": [], "mfa": False, "appointed_by": [DIRECTOR]},
    TRAINER: {"kinds": [], "mfa": False, "appointed_by": [DIRECTOR]},
}

# Permissions of the core itself, as (codename, label, default roles).
CORE_PERMISSIONS = (
    (
        "view_library",
        _("See the library and its people"),
        (CONSORTIUM_ADMIN, DIRECTOR, STAFF, COMMUNICATIONS, TRAINER),
    ),
    # The office holds its permissions everywhere (checked at the root by access.py).
    (
        "manage_library",
        _("Edit the library's details and branding"),
        (CONSORTIUM_ADMIN, DIRECTOR),
    ),
    ("manage_people", _("Appoint and remove the library's people"), (CONSORTIUM_ADMIN, DIRECTOR)),
    ("manage_plugins", _("Switch modules on or off for the library"), (CONSORTIUM_ADMIN, DIRECTOR)),
)

CORE_LABEL = "portal"


def all_permissions() -> dict[str, tuple]:
    """Every per-library permission: ``{"plugin.codename": (label, default_roles)}``."""
    perms = {f"{CORE_LABEL}.{code}": (label, roles) for code, label, roles in CORE_PERMISSIONS}
    for plugin in available_plugins():
        for perm in plugin.meta.permissions:
            perms[f"{plugin.label}.{perm.codename}"] = (perm.label, perm.default_roles)
    return perms


def permission_groups() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Permissions grouped as the office sees them: ``[(label, name, [(perm, label)])]``,
    the core first, then each plugin under its own name."""
    groups = [
        (
            CORE_LABEL,
            str(_("Member libraries")),
            [(f"{CORE_LABEL}.{code}", str(label)) for code, label, _roles in CORE_PERMISSIONS],
        )
    ]
    for plugin in available_plugins():
        perms = [(f"{plugin.label}.{p.codename}", str(p.label)) for p in plugin.meta.permissions]
        if perms:
            groups.append((plugin.label, str(plugin.meta.name), perms))
    return groups


def plugin_of(perm: str) -> str:
    """The plugin label a permission belongs to (``portal`` for the core's own)."""
    return perm.split(".", 1)[0]


# --- the office's definitions -------------------------------------------------------------


@dataclass(frozen=True)
class RoleDefinition:
    code: str
    name: str
    description: str
    permissions: frozenset[str]
    library_kinds: frozenset[str]  # empty: any kind
    library_types: frozenset[str]  # empty: any type
    requires_mfa: bool
    appointed_by: frozenset[str]  # codes of roles whose holders may appoint this one
    retired: bool

    def may_be_held_at(self, library) -> bool:
        return (not self.library_kinds or library.kind in self.library_kinds) and (
            not self.library_types or library.library_type in self.library_types
        )


_STAMP_KEY = "concord:roles:stamp"
_loaded: dict[str, object] = {"stamp": None, "definitions": None}


def definitions() -> dict[str, RoleDefinition]:
    """Every role, retired ones too, by code. No query while no role has changed."""
    stamp = per_request.remember(_STAMP_KEY, _current_stamp)
    if _loaded["stamp"] != stamp or _loaded["definitions"] is None:
        _loaded["definitions"] = _load()
        _loaded["stamp"] = stamp
    return _loaded["definitions"]  # type: ignore[return-value]


def _current_stamp() -> str:
    """The roles' stamp in the shared cache: one round trip, once per request."""
    stamp = cache.get(_STAMP_KEY)
    if stamp is None:
        cache.add(_STAMP_KEY, uuid.uuid4().hex, None)
        stamp = cache.get(_STAMP_KEY)
    return stamp


def definitions_stamp() -> str:
    """The roles' stamp this request works with."""
    return per_request.remember(_STAMP_KEY, _current_stamp)


def remember_stamp_with(*keys: str) -> tuple[str, dict]:
    """The roles' stamp and ``keys`` from the shared cache in one round trip (what a
    signed-in page reads first); the stamp is remembered for the request as
    :func:`definitions` would."""
    if per_request.remembered(_STAMP_KEY):
        return per_request.remember(_STAMP_KEY, _current_stamp), cache.get_many(list(keys))
    found = cache.get_many([_STAMP_KEY, *keys])
    stamp = found.pop(_STAMP_KEY, None) or _current_stamp()
    return per_request.remember(_STAMP_KEY, lambda: stamp), found


def forget_definitions() -> None:
    """Every process reloads the roles on its next decision (call when one changed)."""
    _loaded["definitions"] = None
    per_request.forget(_STAMP_KEY)
    cache.set(_STAMP_KEY, uuid.uuid4().hex, None)


def _load() -> dict[str, RoleDefinition]:
    roles = list(Role.objects.prefetch_related("permissions", "appointed_by"))
    return {
        role.code: RoleDefinition(
            code=role.code,
            name=role.name,
            description=role.description,
            permissions=frozenset(p.codename for p in role.permissions.all()),
            library_kinds=frozenset(role.library_kinds or ()),
            library_types=frozenset(role.library_types or ()),
            requires_mfa=role.requires_mfa,
            appointed_by=frozenset(r.code for r in role.appointed_by.all()),
            retired=role.retired,
        )
        for role in roles
    }


def permissions_of_role(role: str) -> frozenset[str]:
    definition = definitions().get(role)
    return definition.permissions if definition else frozenset()


def role_name(code: str) -> str:
    """The office's name for a role (its code when there is no such role)."""
    definition = definitions().get(code)
    return definition.name if definition else str(ROLES.get(code, code))


def role_choices(include_retired: bool = False) -> list[tuple[str, str]]:
    """``[(code, name)]`` of the roles people may be given, in the office's order."""
    return [(code, d.name) for code, d in definitions().items() if include_retired or not d.retired]
