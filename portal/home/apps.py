from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HomeConfig(AppConfig):
    name = "portal.home"
    label = "home"
    verbose_name = _("Home and dashboard")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .panels import connect_panel_changes

        connect_panel_changes()
