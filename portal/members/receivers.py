"""Keep guardian grants in step with memberships and the tree."""

from allauth.account.signals import password_reset
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
from django.dispatch import receiver

from .grants import ensure_builtin_roles, ensure_permissions, sync_grants, users_below
from .invitations import mark_invited_address_verified
from .models import MemberLibrary, Membership, Role
from .office import sync_office_group
from .roles import forget_definitions


@receiver([post_save, post_delete], sender=Membership)
def membership_changed(sender, instance, **kwargs):
    sync_grants([instance.user_id])
    sync_office_group(instance.user_id)


@receiver(post_save, sender=MemberLibrary)
def library_saved(sender, instance, created, **kwargs):
    # A new branch inherits the grants of everyone holding a role above it.
    if created:
        sync_grants(users_below(instance))


@receiver(post_migrate)
def create_permissions(sender, **kwargs):
    # A plugin installed since the last migrate: its permissions go to its default roles.
    if sender.label == "members":
        ensure_builtin_roles()
        ensure_permissions()


@receiver([post_save, post_delete], sender=Role)
@receiver(m2m_changed, sender=Role.permissions.through)
@receiver(m2m_changed, sender=Role.appointed_by.through)
def role_changed(sender, **kwargs):
    # Now for this process, and again once committed for every other one (which might
    # otherwise reload the old rows between the two).
    forget_definitions()
    transaction.on_commit(forget_definitions)


# An invited person who sets their password from the emailed key has proved the address.
password_reset.connect(mark_invited_address_verified, dispatch_uid="members.invitation_verified")
