from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _

from portal.plugins import all_plugins, discovery_errors


class PortalConfig(AppConfig):
    name = "portal"
    label = "portal"
    verbose_name = _("Concord core")

    def ready(self):
        checks.register(check_plugins, "concord")
        # Imported once the models are ready. background and metrics hold the task_failure
        # receivers: failures counted for the office's page, and shown on the page of the
        # thing each task was for. Beat's periodic fan-out (portal.tasks) writes an audit
        # checkpoint whenever the log's head moved.
        from portal import background  # noqa: F401
        from portal.audit import anchor
        from portal.observability import metrics  # noqa: F401
        from portal.signals import periodic

        periodic.connect(anchor.on_periodic, dispatch_uid="audit.checkpoint")

        from portal.celery import app as celery_app
        from portal.celery import collect_task_routes

        collect_task_routes(celery_app)  # the plugins' queues (PluginMeta.task_router)


def check_plugins(app_configs=None, **kwargs):
    """Refuse unsound plugins with a clear message. Warnings, not errors: a bad plugin is
    left out, and the portal (runserver, migrate) keeps working without it."""
    found = []
    for module, reason in discovery_errors.items():
        found.append(
            checks.Warning(
                f"Plugin {module!r} could not be loaded: {reason}.",
                hint="Install its package or add it to CONCORD_EXCLUDED_PLUGINS.",
                id="concord.W001",
            )
        )
    for plugin in all_plugins():
        for problem in plugin.problems():
            found.append(
                checks.Warning(
                    f"Plugin refused: {problem}",
                    hint="Fix the plugin's PluginMeta; the portal runs without it meanwhile.",
                    obj=plugin,
                    id="concord.W002",
                )
            )
    return found
