from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "portal.members"
    label = "members"
    verbose_name = _("Member libraries")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The receivers read the models: imported once the app registry is ready.
        from django.contrib.auth import get_user_model

        from . import receivers, standing  # noqa: F401

        standing.connect_groups(get_user_model())
