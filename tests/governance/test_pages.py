"""Pages: server-side permission checks, secrecy on every view, constant query counts."""

import io
import re
import time
from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from governance.models import VOTING_KINDS, AgendaItem, Ballot, Delegation, Meeting
from governance.selectors.minutes import minutes_context
from governance.services.closing import close_proposal
from governance.services.delegations import do_name_delegate
from governance.services.electorate import voting_authority
from governance.services.receipts import fingerprint
from portal.members.grants import sync_grants
from portal.members.models import MemberLibrary, Membership
from portal.members.roles import DIRECTOR
from tests import factories

from .conftest import expire


def url(name, *args):
    return reverse(f"governance:{name}", args=args)


def test_director_votes_and_changes_over_http(world, client):
    proposal = world.proposal()
    client.force_login(world.directors[0])
    page = client.get(url("proposal", proposal.pk))
    assert page.status_code == 200 and b'name="choice"' in page.content
    data = {"library": world.libraries[0].pk, "choice": "yes"}
    response = client.post(url("vote", proposal.pk), data)
    assert response.status_code == 200 and b"receipt-code" in response.content
    client.post(url("vote", proposal.pk), {**data, "choice": "no"})
    assert Ballot.objects.get().choice == "no"
    dashboard = client.get(reverse("dashboard"))
    assert b"voted" in dashboard.content and proposal.title.encode() in dashboard.content


@pytest.mark.parametrize("who", ["other_director", "staff", "admin", "outsider"])
def test_cannot_vote_for_someone_elses_library(world, client, who):
    proposal = world.proposal()
    user = {
        "other_director": world.directors[1],
        "staff": world.staff,
        "admin": world.admin,
        "outsider": factories.person(),
    }[who]
    client.force_login(user)
    response = client.post(
        url("vote", proposal.pk), {"library": world.libraries[0].pk, "choice": "yes"}
    )
    assert response.status_code == 403
    assert not Ballot.objects.exists()


def test_outsider_sees_nothing(world, client):
    proposal = world.proposal()
    client.force_login(factories.person())
    for name, args in [("proposals", ()), ("proposal", (proposal.pk,)), ("register", ())]:
        assert client.get(url(name, *args)).status_code == 403


def test_staff_sees_proposal_without_ballot_form(world, client):
    proposal = world.proposal()
    client.force_login(world.staff)
    page = client.get(url("proposal", proposal.pk))
    assert page.status_code == 200 and b'name="choice"' not in page.content


def test_drafts_are_hidden_from_members(world, client):
    draft = world.proposal(open_=False)
    client.force_login(world.directors[0])
    assert client.get(url("proposal", draft.pk)).status_code == 404


def test_results_hidden_until_close_then_chart(world, client):
    proposal = world.proposal()
    world.vote(0, proposal, "yes")
    client.force_login(world.directors[0])
    assert client.get(url("results", proposal.pk)).status_code == 404
    assert client.get(url("ballots", proposal.pk)).status_code == 404
    expire(proposal)
    close_proposal(proposal.pk)
    page = client.get(url("results", proposal.pk))
    assert page.status_code == 200 and b"<svg" in page.content and b'class="bar"' in page.content
    svg = client.get(url("chart", proposal.pk))
    assert svg["Content-Type"] == "image/svg+xml"
    register = client.get(url("register"))
    assert proposal.title.encode() in register.content


def test_public_ballot_list_checks_a_receipt(world, client):
    proposal = world.proposal()
    _ballot, code = world.vote(0, proposal, "yes")
    expire(proposal)
    close_proposal(proposal.pk)
    client.force_login(world.directors[1])
    page = client.post(url("ballots", proposal.pk), {"receipt": code})
    assert b'class="found"' in page.content
    assert fingerprint(code).encode() in page.content
    assert world.libraries[0].name.encode() in page.content  # open ballot: library shown


def test_no_view_shows_a_library_beside_a_secret_choice(world, client):
    proposal = world.proposal(secret=True)
    world.vote(0, proposal, "yes")
    world.vote(1, proposal, "no")
    meeting = Meeting.objects.create(title="Board", starts_at=timezone.now())
    AgendaItem.objects.create(meeting=meeting, title="Vote", proposal=proposal)
    names = [lib.name for lib in world.libraries[:2]]
    choice_words = re.compile(r">\s*(Yes|No)\s*<")

    def rows(html):
        return re.findall(r"<(?:tr|li)[^>]*>.*?</(?:tr|li)>", html, flags=re.S)

    def assert_unlinked(html):
        for row in rows(html):
            if any(name in row for name in names):
                assert not choice_words.search(row), row

    client.force_login(world.admin)
    open_pages = [url("proposal", proposal.pk), url("proposals")]
    for page in open_pages:
        assert_unlinked(client.get(page).content.decode())
    expire(proposal)
    close_proposal(proposal.pk)
    for viewer in (world.admin, world.directors[0]):
        client.force_login(viewer)
        for page in [
            url("proposal", proposal.pk),
            url("results", proposal.pk),
            url("ballots", proposal.pk),
            url("register"),
            url("chart", proposal.pk),
        ]:
            html = client.get(page).content.decode()
            assert_unlinked(html)
        ballots = client.get(url("ballots", proposal.pk)).content.decode()
        assert not any(name in ballots for name in names)
    # The turnout stays visible.
    assert names[0] in client.get(url("proposal", proposal.pk)).content.decode()
    minutes = render_to_string("governance/minutes.html", minutes_context(meeting))
    assert_unlinked(minutes)
    assert names[0] in minutes  # roll-call of who voted
    client.force_login(factories.person(is_superuser=True, is_staff=True))
    for admin_page in [
        reverse("wagtailsnippets_governance_proposal:list"),
        reverse("wagtailsnippets_governance_proposal:edit", args=[proposal.pk]),
    ]:
        # An opened proposal's edit page leads to its portal page: follow it there.
        response = client.get(admin_page, follow=True)
        assert response.status_code == 200
        assert_unlinked(response.content.decode())


def test_director_names_a_proxy_on_the_page(world, client):
    client.force_login(world.directors[0])
    today = timezone.localdate()
    response = client.post(
        url("proxies"),
        {
            "library": world.libraries[0].pk,
            "email": world.staff.email,
            "kind": "proxy",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=7)).isoformat(),
        },
    )
    assert response.status_code == 302
    proposal = world.proposal()
    assert voting_authority(world.staff, world.libraries[0]).kind == "proxy"
    client.force_login(world.staff)
    page = client.get(url("proposal", proposal.pk))
    assert b'name="choice"' in page.content
    client.force_login(world.directors[1])
    response = client.post(
        url("proxies"),
        {"library": world.libraries[0].pk, "email": world.staff.email, "kind": "alternate"},
    )
    # Not one of their libraries: it is not offered, and the form says so beside the field.
    assert response.status_code == 400
    assert "library" in response.context["form"].errors
    assert Delegation.objects.filter(library=world.libraries[0], kind="alternate").count() == 0


def test_office_extends_and_closes_through_the_page(world, client):
    proposal = world.proposal()
    client.force_login(world.admin)
    later = (proposal.closes_at + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    client.post(url("manage", proposal.pk), {"action": "extend", "closes_at": later, "reason": "x"})
    assert proposal.extensions.count() == 1
    client.force_login(world.directors[0])
    response = client.post(url("manage", proposal.pk), {"action": "withdraw"})
    assert response.status_code == 403


def test_minutes_pdf_of_thirty_items(world, client):
    meeting = Meeting.objects.create(title="Annual meeting", starts_at=timezone.now())
    for n in range(30):
        proposal = world.proposal(title=f"Item {n}") if n % 10 == 0 else None
        if proposal:
            world.vote(0, proposal, "yes")
            expire(proposal)
            close_proposal(proposal.pk)
        AgendaItem.objects.create(
            meeting=meeting, title=f"Item {n}", proposal=proposal, sort_order=n
        )
    client.force_login(world.directors[0])
    response = client.get(url("minutes", meeting.pk))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    # Every item is in it, in order (its speed is bench/minutes_pdf.py's to measure).
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    positions = [text.find(f"Item {n}\n") for n in range(30)]
    assert -1 not in positions and positions == sorted(positions), positions


# --- constant queries -------------------------------------------------------------------


def _queries(client, path):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def grow(world, total):
    """Add stand-alone member libraries, each with a director (MFA on), until there are
    ``total``: rows written in bulk with computed tree paths, grants resolved once."""
    root = MemberLibrary.objects.get(pk=world.root.pk)
    start = root.numchild
    count = total - len(world.libraries)
    libraries = MemberLibrary.objects.bulk_create(
        [
            MemberLibrary(
                path=MemberLibrary._get_path(root.path, root.depth + 1, start + n),
                depth=root.depth + 1,
                numchild=0,
                name=f"Grown library {start + n:04d}",
                code=f"grown{start + n}",
                kind=MemberLibrary.Kind.LIBRARY,
                vote_weight=1 + n % 3,
            )
            for n in range(1, count + 1)
        ]
    )
    MemberLibrary.objects.filter(pk=root.pk).update(numchild=start + count)
    directors = get_user_model().objects.bulk_create(
        [get_user_model()(email=f"director.{lib.code}@example.org") for lib in libraries]
    )
    Membership.objects.bulk_create(
        [
            Membership(user=user, library=lib, role=DIRECTOR)
            for user, lib in zip(directors, libraries, strict=True)
        ]
    )
    Authenticator.objects.bulk_create(
        [
            Authenticator(user=u, type=Authenticator.Type.TOTP, data={"secret": "x"})
            for u in directors
        ]
    )
    sync_grants([u.pk for u in directors])
    world.libraries.extend(libraries)
    world.directors.extend(directors)


def _measure(world, client):
    proposal = world.proposal()
    # Every other library has voted (rows as cast_ballot leaves them, written in bulk).
    now = timezone.now()
    Ballot.objects.bulk_create(
        [
            Ballot(
                proposal=proposal,
                library=world.libraries[i],
                weight=1,
                cast_by=world.directors[i],
                authority="director",
                receipt_check=f"{i:064d}",
                fingerprint=f"{i:020d}",
                choice="yes",
                cast_at=now,
            )
            for i in range(1, len(world.libraries), 2)
        ]
    )
    client.force_login(world.directors[0])
    proposal_page = client.get(url("proposal", proposal.pk)).content.decode()
    # The page lists the turnout and the director's four ballots, whatever the size.
    assert f"{len(world.libraries) // 2} of {proposal.eligibilities.count()} libraries" in (
        proposal_page
    )
    assert proposal_page.count('class="ballot"') == 4
    return (
        _queries(client, url("proposal", proposal.pk)),
        _queries(client, reverse("dashboard")),
        _queries(client, url("proposals")),
    )


def test_proposal_and_dashboard_queries_do_not_grow(world, client):
    # The first director also holds two more libraries, so the page shows several ballots,
    # and is proxy for a fourth library (the proxy path is counted too).
    for lib in world.libraries[1:3]:
        Membership.objects.create(user=world.directors[0], library=lib, role=DIRECTOR)
    grow(world, 10)
    today = timezone.localdate()
    do_name_delegate(
        world.directors[3], world.libraries[3], world.directors[0], "proxy", today, today
    )
    small = _measure(world, client)
    grow(world, 500)
    assert MemberLibrary.objects.filter(kind__in=VOTING_KINDS).count() == 500
    large = _measure(world, client)
    assert small == large, (small, large)


def test_the_kept_dashboard_shows_a_vote_at_once(world, client):
    # The panel is kept between visits: casting the ballot must show on the next one.
    proposal = world.proposal()
    client.force_login(world.directors[0])
    before = client.get(reverse("dashboard")).content.decode()
    assert 'class="not-voted"' in before and proposal.title in before
    client.post(url("vote", proposal.pk), {"library": world.libraries[0].pk, "choice": "yes"})
    after = client.get(reverse("dashboard")).content.decode()
    assert 'class="voted"' in after and 'class="not-voted"' not in after
    # A vote closed by the office leaves the panel at once, and is among the decisions.
    close_proposal(proposal.pk, force=True)
    html = client.get(reverse("dashboard")).content.decode()
    assert 'class="voted"' not in html
    assert f'data-proposal="{proposal.pk}"' in html


def test_the_kept_dashboard_drops_a_vote_when_its_window_ends(world, client):
    # Nothing is written when a deadline passes: the panel is kept no longer than that.
    proposal = world.proposal(closes_at=timezone.now() + timedelta(seconds=2))
    client.force_login(world.directors[0])
    assert proposal.title in client.get(reverse("dashboard")).content.decode()
    time.sleep(2.5)
    assert proposal.title not in client.get(reverse("dashboard")).content.decode()
