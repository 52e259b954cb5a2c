from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "portal.audit"
    label = "audit"
    verbose_name = _("Audit log")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from portal.signals import periodic

        from . import anchor, checks  # noqa: F401  (registers the deployment check)

        # Beat's periodic fan-out writes a checkpoint of the head whenever it moved.
        periodic.connect(anchor.on_periodic, dispatch_uid="audit.checkpoint")
