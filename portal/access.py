"""The one answer to "may this user do P for member library L?": what every app imports.

Decided in ``portal.members.access`` (see there), beside the memberships, roles, grants
and switches it reads; the member libraries' own services and pages import it from there.
"""

from portal.members.access import (
    can,
    can_anywhere,
    forget,
    is_consortium_admin,
    libraries_for,
    memberships_of,
    people_with,
    people_with_any,
    permissions_anywhere,
    requires_mfa,
    roles_of,
)

__all__ = [
    "can",
    "can_anywhere",
    "forget",
    "is_consortium_admin",
    "libraries_for",
    "memberships_of",
    "people_with",
    "people_with_any",
    "permissions_anywhere",
    "requires_mfa",
    "roles_of",
]
