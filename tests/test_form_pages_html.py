"""The portal's forms, blank and with every kind of error shown, are valid HTML to the W3C
Nu checker (read in one run): a field's label, help and error stay tied to it."""

from pathlib import Path

import pytest
from django.urls import reverse

from tests.governance.conftest import World
from tests.node_tools import vnu
from tests.training.conftest import make_course

pytestmark = pytest.mark.django_db


def test_form_pages_blank_and_with_errors_are_valid_html(client, tmp_path: Path):
    world = World()
    proposal = world.proposal()
    course = make_course()
    pages = []

    def keep(name, response):
        assert response.status_code in (200, 400), (name, response.status_code)
        path = tmp_path / f"{name}.html"
        path.write_bytes(response.content)
        pages.append(path)

    client.force_login(world.directors[0])
    proxies = reverse("governance:proxies")
    keep("proxies", client.get(proxies))
    keep(
        "proxies-errors",
        client.post(proxies, {"library": "0", "email": "x", "kind": "proxy", "ends_on": "2-30"}),
    )
    keep("register", client.get(reverse("governance:register"), {"year": "soon"}))
    keep("proposals", client.get(reverse("governance:proposals")))
    keep(
        "comment-errors",
        client.post(reverse("governance:comment", args=[proposal.pk]), {"body": " "}),
    )
    client.force_login(world.admin)
    keep(
        "extend-errors",
        client.post(
            reverse("governance:manage", args=[proposal.pk]),
            {"action": "extend", "closes_at": "2026-02-30T10:00"},
        ),
    )
    assign = reverse("training:assign", args=[course.pk])
    keep("assign", client.get(assign))
    keep("assign-errors", client.post(assign, {"library": "nope", "due_on": "2026-02-30"}))
    keep("reports", client.get(reverse("training:reports")))
    keep("office-report", client.get(reverse("training:office_report")))
    keep("announcement-new", client.get(reverse("announcements:new")))
    keep("announcement-errors", client.post(reverse("announcements:new"), {"title": ""}))

    errors = [
        f"{Path(m['url']).name} line {m.get('lastLine')}: {m['message']}"
        for m in vnu(pages)
        if m.get("type") == "error"
    ]
    assert not errors, "\n".join(errors)
