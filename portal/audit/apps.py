from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "portal.audit"
    label = "audit"
    verbose_name = _("Audit log")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the deployment check. The checkpoints that beat's periodic fan-out
        # writes are wired by the core app (portal/apps.py): the log sits below the
        # member libraries, which portal.signals reads.
        from . import checks  # noqa: F401
