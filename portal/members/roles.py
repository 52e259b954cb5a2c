"""The role model: who a person is for a member library, and what that lets them do."""

from django.utils.translation import gettext_lazy as _

CONSORTIUM_ADMIN = "consortium_admin"
DIRECTOR = "director"
STAFF = "staff"
COMMUNICATIONS = "communications"
TRAINER = "trainer"

ROLES = {
    CONSORTIUM_ADMIN: _("Consortium administrator"),
    DIRECTOR: _("Director"),
    STAFF: _("Staff"),
    COMMUNICATIONS: _("Communications"),
    TRAINER: _("Trainer"),
}
ROLE_CHOICES = list(ROLES.items())

# Evergreen-style grantable roles: who may appoint whom, inside their own subtree.
APPOINTABLE_BY = {
    CONSORTIUM_ADMIN: set(ROLES),
    DIRECTOR: {DIRECTOR, STAFF, COMMUNICATIONS, TRAINER},
}

# Permissions of the core itself, as (codename, label, default roles).
CORE_PERMISSIONS = (
    (
        "view_library",
        _("See the library and its people"),
        (CONSORTIUM_ADMIN, DIRECTOR, STAFF, COMMUNICATIONS, TRAINER),
    ),
    # The office holds the core permissions everywhere (checked at the root by access.py).
    (
        "manage_library",
        _("Edit the library's details and branding"),
        (CONSORTIUM_ADMIN, DIRECTOR),
    ),
    ("manage_people", _("Appoint and remove the library's people"), (CONSORTIUM_ADMIN, DIRECTOR)),
    ("manage_plugins", _("Switch modules on or off for the library"), (CONSORTIUM_ADMIN, DIRECTOR)),
)


def all_permissions() -> dict[str, tuple]:
    """Every per-library permission: ``{"plugin.codename": (label, default_roles)}``."""
    from portal.plugins import available_plugins

    perms = {f"portal.{code}": (label, roles) for code, label, roles in CORE_PERMISSIONS}
    for plugin in available_plugins():
        for perm in plugin.meta.permissions:
            perms[f"{plugin.label}.{perm.codename}"] = (perm.label, perm.default_roles)
    return perms


def permissions_of_role(role: str) -> set[str]:
    return {name for name, (_label, roles) in all_permissions().items() if role in roles}


def plugin_of(perm: str) -> str:
    """The plugin label a permission belongs to (``portal`` for the core's own)."""
    return perm.split(".", 1)[0]
