"""The office's side of a vote, as the seeded roles allow it: the admin lets the office in
by its role (no model permission on a group), opening and closing ask for a confirmation,
results speak plainly, and the minutes are linked where people look for them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.models import AgendaItem, Meeting, Proposal
from governance.services.closing import close_proposal
from portal.members.office import OFFICE_GROUP

from .conftest import expire

pytestmark = pytest.mark.django_db


def test_the_office_reaches_the_proposal_admin_by_its_role_alone(world, client):
    # The groups a role puts people in carry only the admin's door; nothing else.
    groups = world.admin.groups.all()
    assert OFFICE_GROUP in {g.name for g in groups}
    for group in groups:
        assert list(group.permissions.values_list("codename", flat=True)) == ["access_admin"]
    assert not world.admin.user_permissions.exists()
    client.force_login(world.admin)
    assert b"Committee voting" in client.get("/admin/").content
    form = client.get("/admin/snippets/governance/proposal/add/")
    assert form.status_code == 200
    # Mover and seconder are picked from libraries grouped by system, with a search box.
    html = form.content.decode()
    assert html.count("data-library-picker") >= 2 and "<optgroup" in html
    closes = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    created = client.post(
        "/admin/snippets/governance/proposal/add/",
        {
            "title": "Share the e-book budget",
            # What the rich-text editor posts for an empty text.
            "body": '{"blocks": [], "entityMap": {}}',
            "options-TOTAL_FORMS": "0",
            "options-INITIAL_FORMS": "0",
            "options-MIN_NUM_FORMS": "0",
            "options-MAX_NUM_FORMS": "1000",
            "electorate": "all",
            "weighting": "one_each",
            "kind": "yes_no",
            "max_choices": "1",
            "majority": "simple",
            "base": "cast",
            "abstentions": "excluded",
            "quorum": "0.5",
            "closes_at": closes,
        },
    )
    proposal = Proposal.objects.get(title="Share the e-book budget")
    # Written in the admin, reviewed and opened on the portal.
    assert created["Location"] == proposal.get_absolute_url()
    page = client.get(proposal.get_absolute_url()).content.decode()
    assert "Open the vote" in page
    assert reverse("wagtailsnippets_governance_proposal:edit", args=[proposal.pk]) in page


def test_directors_and_staff_stay_out_of_the_proposal_admin(world, client):
    client.force_login(world.directors[0])
    assert client.get("/admin/snippets/governance/proposal/add/").status_code in (302, 403)


def test_opening_asks_first_and_then_opens(world, client):
    proposal = world.proposal(open_=False)
    client.force_login(world.admin)
    url = reverse("governance:manage", args=[proposal.pk])
    asked = client.post(url, {"action": "open"})
    assert asked.status_code == 200
    assert b"Open the vote?" in asked.content and b"member libraries may vote" in asked.content
    assert Proposal.objects.get(pk=proposal.pk).state == Proposal.State.DRAFT
    client.post(url, {"action": "open", "confirmed": "yes"})
    assert Proposal.objects.get(pk=proposal.pk).state == Proposal.State.OPEN


def test_close_is_offered_only_once_the_window_has_ended(world, client):
    proposal = world.proposal()
    client.force_login(world.admin)
    page = client.get(proposal.get_absolute_url()).content.decode()
    assert "Close and count now" not in page and "closes and is counted by itself" in page
    expire(proposal)
    page = client.get(proposal.get_absolute_url()).content.decode()
    assert "Close and count now" in page


def test_results_say_when_the_quorum_was_not_reached_and_link_the_minutes(world, client):
    proposal = world.proposal(quorum="0.9")
    world.vote(0, proposal, "yes")
    meeting = Meeting.objects.create(title="Winter meeting", starts_at=timezone.now())
    AgendaItem.objects.create(meeting=meeting, title="E-books", proposal=proposal)
    expire(proposal)
    close_proposal(proposal.pk)
    client.force_login(world.directors[1])
    page = client.get(reverse("governance:results", args=[proposal.pk])).content.decode()
    assert "the quorum was not reached" in page and "Quorum not reached." in page
    assert "1 of 3 eligible libraries took part" in page
    assert "needed more than / at least" not in page and "Membership weight" not in page
    minutes = reverse("governance:minutes", args=[meeting.pk])
    assert minutes in page
    assert minutes in client.get(proposal.get_absolute_url()).content.decode()
    meetings = client.get(reverse("governance:meetings")).content.decode()
    assert minutes in meetings and "Winter meeting" in meetings


def test_an_opened_proposal_is_managed_on_the_portal_not_edited(world, client):
    proposal = world.proposal()
    client.force_login(world.admin)
    edit = reverse("wagtailsnippets_governance_proposal:edit", args=[proposal.pk])
    response = client.get(edit)
    assert response.status_code == 302 and response["Location"] == proposal.get_absolute_url()
    draft = world.proposal(open_=False, title="Still a draft")
    assert (
        client.get(reverse("wagtailsnippets_governance_proposal:edit", args=[draft.pk])).status_code
        == 200
    )
