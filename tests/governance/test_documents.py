"""The minutes and the resolution register as PDFs: tagged PDF/UA-1 and PDF/A-2a, the
minutes' results charts saying their result in words, both passing an independent PDF/UA
checker (tests/pdf_ua.py)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.models import AgendaItem, Meeting
from governance.services.closing import close_proposal
from tests.pdf_ua import assert_accessible_pdf

from .conftest import expire

pytestmark = pytest.mark.django_db


def test_minutes_pdf(world, client, tmp_path):
    meeting = Meeting.objects.create(title="Annual meeting", starts_at=timezone.now())
    open_ = world.proposal(title="Budget 2027")
    secret = world.proposal(title="Director of the year", secret=True)
    for n, choice in enumerate(["yes", "no", "yes"]):
        world.vote(n, open_, choice)
        world.vote(n, secret, choice)
    for order, (title, proposal) in enumerate(
        [("Welcome", None), ("Budget", open_), ("Award", secret)]
    ):
        if proposal:
            expire(proposal)
            close_proposal(proposal.pk)
        AgendaItem.objects.create(meeting=meeting, title=title, proposal=proposal, sort_order=order)
    client.force_login(world.directors[0])
    pdf = client.get(reverse("governance:minutes", args=[meeting.pk])).content
    reader = assert_accessible_pdf(
        pdf, tmp_path, "minutes", title="Minutes: Annual meeting", archival=True
    )
    # Each chart's alternative text gives the result a sighted reader sees in the bars.
    alts = [
        str(element["/Alt"])
        for element in _struct_elements(reader)
        if element.get("/S") == "/Figure"
    ]
    assert len(alts) == 2
    assert all(alt.startswith("Results chart: ") and "ballot" in alt for alt in alts)


def test_resolution_register_pdf(world, client, tmp_path):
    for n, title in enumerate(["Budget 2027", "New bylaws", "Shared catalogue"]):
        proposal = world.proposal(title=title)
        world.vote(0, proposal, "yes" if n else "no")
        expire(proposal)
        close_proposal(proposal.pk)
    client.force_login(world.directors[0])
    page = client.get(reverse("governance:register"), {"year": timezone.now().year})
    assert f"year={timezone.now().year}&amp;format=pdf" in page.content.decode()
    response = client.get(reverse("governance:register"), {"format": "pdf"})
    assert response["Content-Type"] == "application/pdf"
    reader = assert_accessible_pdf(
        response.content, tmp_path, "register", title="Resolution register", archival=True
    )
    text = "".join(page.extract_text() for page in reader.pages)
    assert all(title in text for title in ("Budget 2027", "New bylaws", "Shared catalogue"))


def _struct_elements(reader):
    pending = [reader.trailer["/Root"]["/StructTreeRoot"]]
    while pending:
        node = pending.pop().get_object()
        if not hasattr(node, "get"):
            continue
        yield node
        kids = node.get("/K")
        if kids is None:
            continue
        kids = kids if isinstance(kids, list) else [kids]
        pending.extend(kid for kid in kids if hasattr(kid, "get_object"))
