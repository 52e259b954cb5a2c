"""The Celery app. Plugins' ``tasks.py`` are autodiscovered; their periodic jobs are
collected into the beat schedule from their PluginMeta."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.dev")

app = Celery("concord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def collect_beat_schedule(sender, **kwargs):
    # Imported here: the portal package creates this app before Django's settings load.
    from django.conf import settings

    from portal.plugins import available_plugins

    every = float(getattr(settings, "CONCORD_PERIODIC_SECONDS", 300))
    schedule = {
        "concord-periodic": {"task": "portal.tasks.fan_out_periodic", "schedule": every},
    }
    for plugin in available_plugins():
        for job in plugin.meta.periodic_jobs:
            schedule[f"{plugin.label}.{job.name}"] = {"task": job.task, "schedule": job.schedule}
    sender.conf.beat_schedule = schedule


def collect_task_routes(sender) -> None:
    """Celery's ``task_routes``: the deployment's (``CELERY_TASK_ROUTES``) first, then each
    plugin's ``task_router``. Called when Django is ready (``portal/apps.py``), before any
    task is sent; worked out from the settings, so calling it again gives the same routes."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    from portal.plugins import available_plugins

    routes = getattr(settings, "CELERY_TASK_ROUTES", None) or ()
    if not isinstance(routes, (list, tuple)):
        routes = (routes,)
    plugin_routers = tuple(
        import_string(plugin.meta.task_router)
        for plugin in available_plugins()
        if plugin.meta.task_router
    )
    # update(), not assignment: it makes Celery build its router again.
    sender.conf.update(task_routes=(*routes, *plugin_routers))
