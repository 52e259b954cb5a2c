"""The consortium office's Wagtail admin access.

Wagtail's admin asks for ``wagtailadmin.access_admin``; what a person may do inside it is
decided by ``portal.access`` (the permission policies in ``wagtail_hooks``). Holding a
``consortium_admin`` membership puts a person in the "Consortium office" group, which
carries that one permission; losing the last such membership takes them out.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from .models import Membership
from .roles import CONSORTIUM_ADMIN

OFFICE_GROUP = "Consortium office"


def office_group() -> Group:
    group, created = Group.objects.get_or_create(name=OFFICE_GROUP)
    if created:
        group.permissions.add(admin_access())
    return group


def admin_access() -> Permission:
    """``wagtailadmin.access_admin``, the permission that opens the Wagtail admin: for the
    office's group here and every plugin's door (``portal.admin_door``). Wagtail's migration
    creates it, not post_migrate, so a flushed database (the tests' transactional cases)
    comes back without it; found, or made again as the migration makes it."""
    admin, _ = ContentType.objects.get_or_create(app_label="wagtailadmin", model="admin")
    permission, _ = Permission.objects.get_or_create(
        content_type=admin,
        codename="access_admin",
        defaults={"name": "Can access Wagtail admin"},
    )
    return permission


def sync_office_group(user_id: int) -> None:
    """Put the user in the office group exactly when they hold a consortium_admin role."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    is_admin = Membership.objects.filter(user_id=user_id, role=CONSORTIUM_ADMIN).exists()
    in_group = user.groups.filter(name=OFFICE_GROUP).exists()
    if is_admin and not in_group:
        user.groups.add(office_group())
    elif in_group and not is_admin:
        user.groups.remove(office_group())
