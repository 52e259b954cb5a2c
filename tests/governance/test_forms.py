"""Every POST of the voting pages goes through a form: a malformed value is an error beside
its field (400), never a server error; the register and lists page rather than cut."""

import time
from datetime import timedelta

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from governance import views
from governance.models import Committee, Delegation, Proposal
from governance.services.closing import close_proposal
from portal.home import kept as kept_parts
from tests.queries import get_counting_queries, record_cache_reads

from .conftest import expire


def url(name, *args):
    return reverse(f"governance:{name}", args=args)


def test_an_impossible_date_for_a_proxy_is_an_error_beside_the_field(world, client):
    client.force_login(world.directors[0])
    response = client.post(
        url("proxies"),
        {
            "library": world.libraries[0].pk,
            "email": world.staff.email,
            "kind": "proxy",
            "starts_on": "2026-02-30",  # well formed, but February has no 30th
            "ends_on": "2026-13-01",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"starts_on", "ends_on"}
    html = response.content.decode()
    assert 'aria-invalid="true"' in html and "Enter a valid date." in html
    assert not Delegation.objects.exists()


def test_a_proxy_needs_an_end_and_a_known_address(world, client):
    client.force_login(world.directors[0])
    response = client.post(
        url("proxies"),
        {"library": world.libraries[0].pk, "email": "nobody@example.org", "kind": "proxy"},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "No active account has that address." in errors["email"]
    assert "A proxy needs an end date." in errors["ends_on"]


def test_the_proxy_page_offers_libraries_grouped(world, client):
    client.force_login(world.directors[0])
    html = client.get(url("proxies")).content.decode()
    assert "<optgroup" in html and "data-library-picker" in html


def test_revoking_a_malformed_id_is_not_found(world, client):
    client.force_login(world.directors[0])
    assert client.post(url("proxies"), {"revoke": "x"}).status_code == 404


def test_an_impossible_closing_time_is_shown_beside_the_field(world, client):
    proposal = world.proposal()
    client.force_login(world.admin)
    response = client.post(
        url("manage", proposal.pk),
        {"action": "extend", "closes_at": "2026-02-30T10:00", "reason": "snow"},
    )
    assert response.status_code == 400
    assert "closes_at" in response.context["extend_form"].errors
    assert "Enter a valid date/time." in response.content.decode()
    assert proposal.extensions.count() == 0


def test_an_extension_without_a_reason_or_time_says_what_is_missing(world, client):
    proposal = world.proposal()
    client.force_login(world.admin)
    response = client.post(url("manage", proposal.pk), {"action": "extend"})
    assert response.status_code == 400
    errors = response.context["extend_form"].errors
    assert set(errors) == {"closes_at", "reason"}


def test_an_extension_before_the_current_close_is_refused_beside_the_field(world, client):
    proposal = world.proposal()
    client.force_login(world.admin)
    earlier = (proposal.closes_at - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        url("manage", proposal.pk), {"action": "extend", "closes_at": earlier, "reason": "x"}
    )
    assert response.status_code == 400
    assert response.context["extend_form"].errors["closes_at"]


def test_an_unknown_action_changes_nothing(world, client):
    proposal = world.proposal()
    client.force_login(world.admin)
    response = client.post(url("manage", proposal.pk), {"action": "delete"}, follow=True)
    assert b"Unknown action." in response.content
    proposal.refresh_from_db()
    assert proposal.state == Proposal.State.OPEN


def test_an_empty_comment_is_an_error_beside_the_field(world, client):
    proposal = world.proposal()
    client.force_login(world.directors[0])
    response = client.post(url("comment", proposal.pk), {"body": "   "})
    assert response.status_code == 400
    assert response.context["comment_form"].errors["body"]
    assert not proposal.comments.exists()


def test_a_ballot_without_a_library_is_refused(world, client):
    proposal = world.proposal()
    client.force_login(world.directors[0])
    assert client.post(url("vote", proposal.pk), {"library": "x"}).status_code == 403


def test_the_register_picks_a_committee_by_name(world, client):
    Committee.objects.create(name="Resource sharing", slug="resource-sharing")
    client.force_login(world.directors[0])
    html = client.get(url("register")).content.decode()
    assert '<option value="resource-sharing">Resource sharing</option>' in html
    response = client.get(url("register"), {"committee": "no-such", "year": "soon"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"committee", "year"}


def test_the_proposal_list_pages_with_constant_queries(world, client, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    client.force_login(world.directors[0])
    for n in range(2):
        world.proposal(title=f"Vote {n}")
    client.get(url("proposals"))
    cache.clear()  # cold: the table and open votes worked out, the cost that must not grow
    few, _ = get_counting_queries(client, url("proposals"))
    kept, _ = get_counting_queries(client, url("proposals"))
    # Kept: the session, the person and the consortium's name (the reader check reads
    # the person's kept grants).
    assert kept == 3 < few
    for n in range(2, 8):
        world.proposal(title=f"Vote {n}")
    cache.clear()
    many, response = get_counting_queries(client, url("proposals"))
    assert many == few
    page = response.context["proposals"]
    assert page.paginator.count == 8 and len(page.object_list) == 3
    assert 'rel="next"' in response.content.decode()
    _, response = get_counting_queries(client, url("proposals") + "?page=3")
    assert [p.title for p in response.context["proposals"]] == ["Vote 1", "Vote 0"]
    # The table is kept by the page shown, not by what the address says: asked for as
    # "x", "-1", "1" or not at all, the first page is one kept entry.
    reads = record_cache_reads(monkeypatch, kept_parts)
    for asked in ("?page=x", "?page=-1", "?page=1", ""):
        response = client.get(url("proposals") + asked)
        assert response.context["proposals"].number == 1
    tables = {key for keys in reads for key in keys if ":governance:proposals:" in key}
    assert len(tables) == 1


def test_the_kept_proposal_list_shows_a_new_vote_and_a_ballot_at_once(world, client):
    # The table and the open votes are kept between visits (portal.home.kept): what the
    # person or anyone else did since must show on the next one.
    first = world.proposal(title="Vote on the courier contract")
    client.force_login(world.directors[0])
    html = client.get(url("proposals")).content.decode()
    assert "Vote on the courier contract" in html and "0 / 3" in html
    assert html.count("not voted yet") == 1
    second = world.proposal(title="Vote on the shared catalogue")
    html = client.get(url("proposals")).content.decode()
    assert "Vote on the shared catalogue" in html and html.count("not voted yet") == 2
    world.vote(1, first, "yes")  # another library's ballot: the turnout moves
    client.post(url("vote", second.pk), {"library": world.libraries[0].pk, "choice": "no"})
    html = client.get(url("proposals")).content.decode()
    assert "1 / 3" in html and html.count("not voted yet") == 1
    assert html.count(" — voted — ") == 1


def test_the_kept_proposal_list_shows_drafts_to_the_office_only(world, client):
    world.proposal(title="A draft motion", open_=False)
    client.force_login(world.admin)
    assert "A draft motion" in client.get(url("proposals")).content.decode()
    client.force_login(world.directors[0])
    assert "A draft motion" not in client.get(url("proposals")).content.decode()


def test_the_kept_proposal_list_drops_a_vote_when_its_window_ends(world, client):
    # Nothing is written when a deadline passes: the open votes are kept no longer.
    world.proposal(title="A short vote", closes_at=timezone.now() + timedelta(seconds=2))
    client.force_login(world.directors[0])
    assert "not voted yet" in client.get(url("proposals")).content.decode()
    time.sleep(2.5)
    assert "not voted yet" not in client.get(url("proposals")).content.decode()


def test_the_register_pages_with_constant_queries(world, client, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client.force_login(world.directors[0])

    def decide(n):
        for i in range(n):
            proposal = world.proposal(title=f"Decided {i}")
            world.vote(0, proposal, "yes")
            close_proposal(expire(proposal).pk)

    decide(1)
    client.get(url("register"))
    few, _ = get_counting_queries(client, url("register"))
    decide(4)
    many, response = get_counting_queries(client, url("register") + "?outcome=passed&page=2")
    assert many == few
    assert response.context["proposals"].paginator.count == 5
    # The next page keeps the filter.
    assert "outcome=passed&amp;page=3" in response.content.decode()


def test_an_open_vote_shows_its_turnout_as_a_bar(world, client):
    proposal = world.proposal()
    world.vote(0, proposal, "yes")
    client.force_login(world.directors[1])
    html = client.get(url("proposal", proposal.pk)).content.decode()
    total = proposal.eligibilities.count()
    assert f'max="{total}" value="1" aria-labelledby="turnout-text"' in html
    assert f"1 of {total} libraries have voted." in html
