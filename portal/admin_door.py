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
        group = self.group()
        user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        if user is None:
            return
        access.forget(user)
        if any(access.can_anywhere(user, perm) for perm in self.perms):
            user.groups.add(group)
        else:
            user.groups.remove(group)

    def rebuild(self) -> None:
        """The group from scratch: people who held a role before the group existed get in,
        people who lost it get out. One query per permission, then the set."""
        libraries = MemberLibrary.objects.all()
        people = set()
        for perm in self.perms:
            people.update(access.people_with_any(perm, libraries))
        self.group().user_set.set(people)
