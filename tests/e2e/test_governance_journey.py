"""A director signs in, votes for the library, changes the vote, sees "voted" on the
dashboard; once the vote is closed the results page shows the chart."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance.models import Ballot, Proposal
from governance.services.ballots import cast_ballot
from governance.services.closing import close_proposal
from governance.services.proposals import do_open_proposal
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR
from tests import factories
from tests.factories import with_mfa

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery"


def test_director_votes_changes_the_vote_and_reads_the_results(page):
    root = factories.consortium()
    library = factories.library(root, name="Riverside Library System")
    other = factories.library(root, name="Hilltop Library System")
    admin = with_mfa(factories.member(root, CONSORTIUM_ADMIN))
    director = factories.member(
        library, DIRECTOR, email="dana@example.org", full_name="Dana Director", verified=True
    )
    secret = factories.totp(director)
    other_director = with_mfa(factories.member(other, DIRECTOR))
    proposal = do_open_proposal(
        admin,
        Proposal.objects.create(
            title="Adopt the shared loan rules", closes_at=timezone.now() + timedelta(days=2)
        ),
    )
    cast_ballot(other_director, proposal.pk, other.pk, "yes")

    # Password, then the authenticator code: directors must use MFA.
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(director.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(factories.totp_code(secret))
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))

    panel = page.locator('section.panel[data-plugin="governance"]')
    expect(panel.locator(".not-voted")).to_have_text("not voted yet")
    panel.get_by_role("link", name=proposal.title).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(proposal.title)
    ballot = page.locator(f'section.ballot[data-library="{library.code}"]')
    ballot.get_by_label("Yes").check()
    ballot.get_by_role("button", name="Cast vote").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your ballot was recorded")
    receipt = page.locator("#receipt-code").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){5}", receipt)

    page.get_by_role("link", name="Back to the proposal").click()
    expect(ballot.locator(".my-choice")).to_have_text("Yes")
    ballot.get_by_label("No").check()
    ballot.get_by_role("button", name="Change vote").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your ballot was recorded")
    assert page.locator("#receipt-code").inner_text() != receipt

    stored = Ballot.objects.get(proposal=proposal, library=library)
    assert (stored.choice, stored.changes, stored.cast_by_id) == ("no", 1, director.pk)

    page.locator("#main").get_by_role("link", name="Dashboard").click()
    expect(panel.get_by_role("link", name=proposal.title)).to_be_visible()
    expect(panel.locator(".voted")).to_have_text("voted")
    expect(panel.locator(".not-voted")).to_have_count(0)

    # The window ends and the beat job closes it (called directly here).
    Proposal.objects.filter(pk=proposal.pk).update(
        opens_at=timezone.now() - timedelta(days=1), closes_at=timezone.now()
    )
    assert close_proposal(proposal.pk) is not None

    page.goto(f"/governance/proposals/{proposal.pk}/")
    page.get_by_role("link", name="Results", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Results: {proposal.title}")
    expect(page.locator(".outcome")).to_contain_text("Tied.")
    chart = page.locator("figure.chart svg.results-chart")
    expect(chart).to_be_visible()
    expect(page.get_by_role("img", name=proposal.title)).to_be_visible()
    expect(chart.locator("g.bar")).to_have_count(4)  # yes, no, abstain, recuse
    widths = {}
    for key in ("yes", "no", "abstain", "recuse"):
        bar = chart.locator(f'g.bar[data-key="{key}"]')
        widths[key] = float(bar.locator("rect").get_attribute("width"))
        expect(bar).to_contain_text("(1)" if key in ("yes", "no") else "(0)")
    # One library each way: two full bars, two empty ones.
    assert widths == {"yes": 400.0, "no": 400.0, "abstain": 0.0, "recuse": 0.0}
