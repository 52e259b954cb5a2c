"""Groups that open the Wagtail admin to people whose roles need it.

Wagtail lets in whoever holds ``wagtailadmin.access_admin``; what they may do inside is
still decided by ``portal.access`` on every view. A plugin whose screens live in the admin
declares an ``AdminDoor``: a group carrying that one permission, held exactly by the people
who may do one of ``perms`` for some member library. The plugin syncs one person when their
memberships change and rebuilds the whole group on migrate and after bulk seeding.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from portal import access
from portal.members.models import MemberLibrary
from portal.members.office import admin_access


@dataclass(frozen=True)
class AdminDoor:
    group_name: str
    perms: tuple[str, ...]

    def group(self) -> Group:
        group, created = Group.objects.get_or_create(name=self.group_name)
        if created or not group.permissions.exists():
            group.permissions.add(admin_access())
        return group

    def sync(self, user_id: int | None) -> None:
        """Put one person in the group, or take them out, after their roles changed."""
        sync_doors(user_id, [self])

    def rebuild(self) -> None:
        """The group from scratch: people who held a role before the group existed get in,
        people who lost it get out. One query per permission, then the set."""
        libraries = MemberLibrary.objects.all()
        people = set()
        for perm in self.perms:
            people.update(access.people_with_any(perm, libraries))
        self.group().user_set.set(people)


def sync_doors(user_id: int | None, doors) -> None:
    """Put one person in each door's group, or take them out, after their roles changed.

    One read of the person and of the door groups they are in; a group is joined or left
    only when that changes. Most membership changes concern no door (a member of staff
    joins a branch): then nothing is written, and no ``m2m_changed`` drops the person's
    kept standing for nothing.
    """
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    if user is None:
        return
    access.forget(user)
    names = [door.group_name for door in doors]
    inside = set(user.groups.filter(name__in=names).values_list("name", flat=True))
    for door in doors:
        belongs = any(access.can_anywhere(user, perm) for perm in door.perms)
        if belongs and door.group_name not in inside:
            user.groups.add(door.group())
        elif not belongs and door.group_name in inside:
            user.groups.remove(door.group())
