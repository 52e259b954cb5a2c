"""Which Celery queue the plugin's tasks go to: Celery's task_routes decide, whoever queues
the task; the engine's tasks go to PATRON_NOTICES_QUEUE when it is set."""

import pytest

from plugins.patron_notices.notices import queue
from portal.celery import app, collect_task_routes

DIRECTORY_TASKS = ["patron_notices.run_import", "patron_notices.purge_expired_patrons"]


def queue_of(task: str, **options) -> str:
    return app.amqp.router.route(options, task)["queue"].name


def test_without_the_setting_every_task_goes_to_celerys_default_queue(settings):
    settings.PATRON_NOTICES_QUEUE = None
    for task in [*queue.ENGINE_TASKS, *DIRECTORY_TASKS]:
        assert queue_of(task) == app.conf.task_default_queue, task


def test_the_engines_tasks_go_to_the_notices_queue_and_the_directorys_do_not(settings):
    settings.PATRON_NOTICES_QUEUE = "patron-notices"
    for task in queue.ENGINE_TASKS:
        assert queue_of(task) == "patron-notices", task
    for task in DIRECTORY_TASKS:
        assert queue_of(task) == app.conf.task_default_queue, task
    # A queue named when sending wins over the route.
    assert queue_of(queue.BATCH, queue="elsewhere") == "elsewhere"


def test_every_task_the_engine_defines_is_routed():
    app.loader.import_default_modules()
    defined = {
        name
        for name, task in app.tasks.items()
        if task.__module__ == "plugins.patron_notices.notices.tasks"
    }
    assert defined == set(queue.ENGINE_TASKS)


@pytest.fixture
def deployment_routes(settings):
    settings.CELERY_TASK_ROUTES = {"patron_notices.send_notice_batch": {"queue": "bulk"}}
    yield
    del settings.CELERY_TASK_ROUTES
    collect_task_routes(app)


def test_the_deployments_own_routes_come_first(settings, deployment_routes):
    settings.PATRON_NOTICES_QUEUE = "patron-notices"
    collect_task_routes(app)
    collect_task_routes(app)  # the same routes, however often the app is finalized
    assert app.conf.task_routes[1:] == (queue.route,)
    assert queue_of(queue.BATCH) == "bulk"
    assert queue_of(queue.START) == "patron-notices"
