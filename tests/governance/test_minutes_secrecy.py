"""The minutes PDF read back as text: a secret proposal's roll-call column shows who voted,
never how; an open proposal's column shows each library's choice."""

import base64
import io
import re
from datetime import timedelta

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from governance.models import AgendaItem, Meeting, Proposal
from governance.selectors.minutes import minutes_context, number_ranges
from governance.selectors.results import chart_bars
from governance.services.closing import close_proposal
from governance.services.delegations import do_name_delegate
from tests import factories

from .conftest import expire


def pdf_lines(content: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(content))
    return [line for page in reader.pages for line in page.extract_text().splitlines()]


def roll_call(lines: list[str], names: list[str]) -> dict[str, list[str]]:
    """``{library name: [weight, cell of item 1, cell of item 2, ...]}`` from the roll-call."""
    rows = {}
    for line in lines:
        for name in names:
            if line.startswith(name + " "):
                rows[name] = line[len(name) :].split()
    return rows


def test_minutes_pdf_never_prints_a_library_beside_a_secret_choice(world, client):
    zeta, _director = world.add_library(name="Zeta Library")
    today = timezone.localdate()
    proxy = factories.person()
    do_name_delegate(
        world.directors[2], world.libraries[2], proxy, "proxy", today, today + timedelta(days=1)
    )
    secret = world.proposal(title="Secret item", secret=True)
    # Several choices do not fit a cell; an open one is spelled out under its item, a
    # secret one must not be.
    secret_approval = world.proposal(
        title="Secret approval",
        secret=True,
        kind="approval",
        max_choices=2,
        majority="plurality",
        options=("red", "green", "blue"),
    )
    open_ = world.proposal(title="Open item")
    choices = ["yes", "no", "abstain"]
    for n, choice in enumerate(choices):
        world.vote(n, secret, choice, user=proxy if n == 2 else None)
        world.vote(n, secret_approval, [["red"], ["green", "blue"], ["blue"]][n])
        world.vote(n, open_, choice)
    world.vote(3, open_, "yes")  # Zeta votes only on the open item
    for proposal in (secret, secret_approval, open_):
        expire(proposal)
        close_proposal(proposal.pk)
    meeting = Meeting.objects.create(title="Board", starts_at=timezone.now())
    for n, proposal in enumerate((secret, secret_approval, open_)):
        AgendaItem.objects.create(
            meeting=meeting, title=proposal.title, proposal=proposal, sort_order=n
        )

    client.force_login(world.directors[0])
    response = client.get(reverse("governance:minutes", args=[meeting.pk]))
    assert response.status_code == 200
    lines = pdf_lines(response.content)
    names = [lib.name for lib in world.libraries]
    assert zeta.name in names

    rows = roll_call(lines, names)
    assert set(rows) == set(names)  # every library that voted on anything has a line
    for n, name in enumerate(names[:3]):
        weight, secret_cell, approval_cell, open_cell = rows[name]
        assert (secret_cell, approval_cell) == ("•", "•"), rows[name]
        assert open_cell == {"yes": "Y", "no": "N", "abstain": "A"}[choices[n]]
    assert rows[zeta.name][1:] == ["·", "·", "Y"]  # did not vote in secret; voted yes openly

    # Nowhere else in the document (item text, proxy chain) does a library share a line
    # with a choice: the proxy who voted in secret is named, not what they chose.
    choice_words = re.compile(r"\b(Yes|No|Abstain|Red|Green|Blue)\b")
    for line in lines:
        if any(name in line for name in names) and not line.startswith(tuple(names)):
            assert not choice_words.search(line), line
    assert any(proxy.email in line for line in lines)  # the proxy chain is still shown


def test_minutes_proxy_chain_is_one_line_per_library_and_authority(world):
    today = timezone.localdate()
    proxy = factories.person()
    do_name_delegate(
        world.directors[1], world.libraries[1], proxy, "proxy", today, today + timedelta(days=2)
    )
    proposals = [world.proposal(title=f"Item {n}", secret=n == 1) for n in range(4)]
    for n, proposal in enumerate(proposals):
        world.vote(0, proposal, "yes")
        # The proxy votes on items 1, 2 and 4; the director on item 3.
        world.vote(1, proposal, "no", user=None if n == 2 else proxy)
        expire(proposal)
        close_proposal(proposal.pk)
    meeting = Meeting.objects.create(title="Board", starts_at=timezone.now())
    AgendaItem.objects.create(meeting=meeting, title="Welcome", sort_order=0)
    for n, proposal in enumerate(proposals, start=1):
        AgendaItem.objects.create(
            meeting=meeting, title=proposal.title, proposal=proposal, sort_order=n
        )

    context = minutes_context(meeting)
    assert context["proxy_chain"] == [
        {
            "library": world.libraries[1].name,
            "cast_by": proxy.email,
            "authority": "Proxy",
            "named_by": world.directors[1].email,
            "starts_on": today,
            "ends_on": today + timedelta(days=2),
            # Agenda numbers: item 1 is the welcome, so the proposals are items 2-5.
            "items": "2–3, 5",
        }
    ]
    assert [e.get("proxies") for e in context["entries"]] == [None, 1, 1, 0, 1]
    html = render_to_string("governance/minutes.html", context)
    assert html.count(proxy.email) == 1
    # Each decided item carries the results page's own SVG chart.
    charts = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(charts) == 4
    first = Proposal.objects.get(pk=proposals[0].pk)
    assert base64.b64decode(charts[0]).decode() == render_to_string(
        "governance/chart.svg", {"proposal": first, "bars": chart_bars(first)}
    )
    assert 'class="bar"' in base64.b64decode(charts[0]).decode()
    assert "1 ballot was cast by an alternate or a proxy" in html


def test_number_ranges():
    assert number_ranges([]) == ""
    assert number_ranges([5, 1, 2, 3, 8, 7, 2]) == "1–3, 5, 7–8"
