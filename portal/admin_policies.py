"""Wagtail permission policies that ask ``portal.access`` instead of Django's model perms.

Wagtail's admin normally checks ``app.add_model`` and friends on the user's groups; Concord
decides with roles per member library, so a plugin registers one of these for each model
it shows in the admin. Without it the office would see no menu and get "Sorry, you do not
have permission" on the add page, whatever its roles say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from wagtail.permission_policies import BasePermissionPolicy


class RolePermissionPolicy(BasePermissionPolicy):
    """People for whom ``allowed(user)`` holds may do ``actions``; nobody else.

    ``instance_allowed(action, instance)`` narrows what may be done to one object (a
    proposal may be edited only while it is a draft, say); it defaults to "anything in
    ``actions``".
    """

    def __init__(
        self,
        model,
        actions: Iterable[str],
        allowed: Callable[[object], bool],
        instance_allowed: Callable[[str, object], bool] | None = None,
    ):
        super().__init__(model)
        self.actions = frozenset(actions)
        self.allowed = allowed
        self.instance_allowed = instance_allowed or (lambda action, instance: True)

    def user_has_permission(self, user, action):
        return action in self.actions and bool(user.is_authenticated) and self.allowed(user)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_permission_for_instance(self, user, action, instance):
        return self.user_has_permission(user, action) and self.instance_allowed(action, instance)

    def user_has_any_permission_for_instance(self, user, actions, instance):
        return any(
            self.user_has_permission_for_instance(user, action, instance) for action in actions
        )

    def instances_user_has_any_permission_for(self, user, actions):
        if self.user_has_any_permission(user, actions):
            return self.model.objects.all()
        return self.model.objects.none()

    def users_with_any_permission(self, actions):
        # Wagtail asks this only to list reviewers and the like; roles answer it elsewhere.
        from django.contrib.auth import get_user_model

        return get_user_model().objects.none()
