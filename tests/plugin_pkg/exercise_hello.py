"""Run by tests/core/test_plugins.py inside ``manage.py shell`` with concord_hello installed:
uses every part of the plugin contract the way the portal does, prints what the core did
with the plugin as JSON, and leaves the database as it found it (one transaction, rolled
back)."""

import io
import json

from concord_hello.apps import calls
from django.core.management import call_command
from django.db import transaction
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from portal import access
from portal.api.services import do_issue_token, known_scopes
from portal.celery import app as celery_app
from portal.celery import collect_beat_schedule
from portal.home.panels import panels_for
from portal.management.commands.seed_demo import Command as SeedDemo
from portal.members.services import do_switch_plugin
from portal.navigation import navigation
from portal.plugins import CONSORTIUM_ADMIN, STAFF
from portal.reports import people_report
from portal.signals import course_completed
from portal.tasks import fan_out_periodic
from tests import factories


class Done(Exception):
    """Leaves the transaction, so it is rolled back."""


seen: dict = {}
try:
    with transaction.atomic():
        root = factories.consortium()
        library = factories.library(root, code="hello-lib")
        office = factories.member(root, CONSORTIUM_ADMIN)
        staff = factories.member(library, STAFF)
        stranger = factories.person()
        seen["can"] = access.can(staff, "hello.say_hello", library)

        client = Client()
        client.force_login(staff)
        page = client.get(reverse("hello:index"))
        seen["url"] = reverse("hello:index")
        seen["page"] = [page.status_code, page.content.decode()]
        client.force_login(stranger)
        seen["page_refused"] = client.get(reverse("hello:index")).status_code

        request = RequestFactory().get("/")
        request.user = staff
        seen["navigation"] = [str(entry.label) for entry in navigation(request)]
        seen["panels"] = [
            [str(panel.title), panel.render(request).strip()]
            for panel in panels_for(request)
            if panel.plugin == "hello"
        ]

        collect_beat_schedule(celery_app)
        seen["beat"] = celery_app.conf.beat_schedule.get("hello.tidy")

        report = people_report(library)
        seen["report"] = [[c.plugin, c.key, str(c.title)] for c in report.columns]

        seen["scopes"] = known_scopes().get("hello:read")
        _token, secret = do_issue_token(office, library, "ILS", ["hello:read"])
        answer = Client().get("/api/v1/hello/greeting", HTTP_AUTHORIZATION=f"Bearer {secret}")
        seen["api"] = [answer.status_code, answer.json()]

        fan_out_periodic()
        course_completed.send(sender=library, user=staff, course=None, completion=None)
        do_switch_plugin(office, library, "hello", False)
        course_completed.send(sender=library, user=staff, course=None, completion=None)
        do_switch_plugin(office, library, "hello", True)
        seen["calls"] = list(calls)
        calls.clear()

        parser = SeedDemo().create_parser("manage.py", "seed_demo")
        seen["demo_option_default"] = parser.parse_args([]).greetings
        out = io.StringIO()
        with override_settings(DEBUG=True):
            call_command(
                "seed_demo",
                libraries=4,
                staff_per_library=1,
                greetings=2,
                reset=True,
                stdout=out,
            )
        seen["demo_calls"] = list(calls)
        seen["demo_summary"] = [line.strip() for line in out.getvalue().splitlines()]
        raise Done
except Done:
    pass
print("HELLO-CONTRACT " + json.dumps(seen))
