"""Keep guardian grants in step with memberships and the tree."""

from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from .grants import ensure_permissions, sync_grants, users_below
from .models import MemberLibrary, Membership


@receiver([post_save, post_delete], sender=Membership)
def membership_changed(sender, instance, **kwargs):
    sync_grants([instance.user_id])


@receiver(post_save, sender=MemberLibrary)
def library_saved(sender, instance, created, **kwargs):
    # A new branch inherits the grants of everyone holding a role above it.
    if created:
        sync_grants(users_below(instance))


@receiver(post_migrate)
def create_permissions(sender, **kwargs):
    if sender.label == "members":
        ensure_permissions()
