"""Opens the Wagtail admin's "Single sign-on" to the people who may connect a library's
provider (the office and directors), as their roles come and go."""

from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from portal.admin_door import AdminDoor
from portal.members.models import Membership
from portal.signals import memberships_rebuilt

from .services import MANAGE

KEEPERS = AdminDoor("Library sign-in keepers", (MANAGE,))


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="sso.keepers")
def membership_changed(sender, instance, **kwargs):
    # portal.members is installed first: its receiver has resolved the grants by now.
    KEEPERS.sync(instance.user_id)


@receiver(memberships_rebuilt, dispatch_uid="sso.keepers_rebuilt")
def memberships_rebuilt_in_bulk(sender, **kwargs):
    KEEPERS.rebuild()


@receiver(post_migrate, dispatch_uid="sso.keepers_migrated")
def keepers_after_migrate(sender, **kwargs):
    if sender.label == "sso":
        KEEPERS.rebuild()
