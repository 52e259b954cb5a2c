"""Adoption: a passed proposal (through the core signal) or the office approval workflow."""

import datetime
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from knowledge_base.policies.models import PolicyChange, PolicyPage, PolicyVersion
from knowledge_base.policies.services.adoption import (
    check_draft_comment,
    check_open_change,
    close_comment_periods,
    do_draft_comment,
    do_open_change,
    publish_due_changes,
)
from knowledge_base.policies.services.library import OFFICE_WORKFLOW
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR
from portal.signals import periodic, proposal_decided
from tests import factories
from tests.factories import with_mfa

from .conftest import new_policy, revise

pytestmark = pytest.mark.django_db


class FakeProposal(SimpleNamespace):
    """Stands in for the governance plugin's proposal: the policy side needs pk and str."""

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return f"/governance/proposals/{self.pk}/"


def open_change(page, office, **kwargs):
    page = PolicyPage.objects.get(pk=page.pk)
    revision = check_open_change(office, page, **kwargs)
    return do_open_change(office, page, revision, **kwargs)


@pytest.fixture
def office(consortium):
    return with_mfa(factories.member(consortium["root"], CONSORTIUM_ADMIN))


def decide(change, outcome, root, pk=7):
    proposal = FakeProposal(pk=pk, title=f"Proposal {pk}: adopt the new loan periods")
    proposal_decided.send(sender=root, proposal=proposal, outcome=outcome, subject=change)
    return proposal


def test_passed_proposal_publishes_the_draft_with_the_proposal_as_authority(
    consortium, library_page, office
):
    page = new_policy(library_page)
    revise(page, ["Loans last four weeks."], publish=False, summary="Four weeks.")
    change = open_change(page, office)
    assert change.status == PolicyChange.Status.PROPOSED
    assert PolicyVersion.objects.filter(policy=page).count() == 1  # nothing published yet

    decide(change, "passed", consortium["root"])

    change.refresh_from_db()
    version = PolicyVersion.objects.get(policy=page, number=2)
    assert change.status == PolicyChange.Status.PUBLISHED and change.version == version
    assert version.authority_label == "Proposal 7: adopt the new loan periods"
    assert version.authority_url == "/governance/proposals/7/"
    assert version.change_summary == "Four weeks."
    assert "four weeks" in version.text
    assert "four weeks" in str(PolicyPage.objects.get(pk=page.pk).body[1].value)


def test_failed_or_tied_proposal_publishes_nothing(consortium, library_page, office):
    page = new_policy(library_page)
    revise(page, ["Loans last four weeks."], publish=False)
    change = open_change(page, office)
    decide(change, "tie", consortium["root"])
    change.refresh_from_db()
    assert change.status == PolicyChange.Status.REJECTED
    assert PolicyVersion.objects.filter(policy=page).count() == 1
    # A second delivery of the decision changes nothing.
    decide(change, "passed", consortium["root"])
    assert PolicyVersion.objects.filter(policy=page).count() == 1


def test_other_subjects_are_ignored(consortium, library_page):
    page = new_policy(library_page)
    proposal_decided.send(
        sender=consortium["root"],
        proposal=FakeProposal(pk=1, title="x"),
        outcome="passed",
        subject=page,
    )
    assert PolicyVersion.objects.filter(policy=page).count() == 1


def test_adopted_change_waits_for_its_effective_date(consortium, library_page, office):
    page = new_policy(library_page)
    later = timezone.localdate() + datetime.timedelta(days=10)
    revise(page, ["Loans last four weeks."], publish=False, effective_date=later)
    change = open_change(page, office)
    decide(change, "passed", consortium["root"])
    change.refresh_from_db()
    assert change.status == PolicyChange.Status.SCHEDULED
    assert PolicyVersion.objects.filter(policy=page).count() == 1

    periodic.send(sender=None, now=timezone.now())  # before the date: nothing
    assert PolicyVersion.objects.filter(policy=page).count() == 1
    publish_due_changes(today=later)
    publish_due_changes(today=later)  # idempotent
    version = PolicyVersion.objects.get(policy=page, number=2)
    assert version.effective_date == later
    assert version.authority_label.startswith("Proposal 7")


def test_comment_period_lets_directors_comment_then_closes(consortium, library_page, office):
    page = new_policy(library_page)
    revise(page, ["Loans last four weeks."], publish=False)
    today = timezone.localdate()
    change = open_change(page, office, comment_until=today + datetime.timedelta(days=14))
    system = consortium["systems"][0]
    director = with_mfa(factories.member(system, DIRECTOR))
    check_draft_comment(director, change, system, "Four weeks is too long for DVDs.")
    do_draft_comment(director, change, system, "Four weeks is too long for DVDs.")
    assert change.comments.get().library == system
    staff = factories.member(system, "staff")
    with pytest.raises(PermissionDenied):
        check_draft_comment(staff, change, system, "me too")
    close_comment_periods(today + datetime.timedelta(days=15))
    change.refresh_from_db()
    assert change.status == PolicyChange.Status.PROPOSED


def test_office_approval_workflow_publishes_when_voting_is_off(consortium, library_page, office):
    page = new_policy(library_page)
    revise(page, ["Loans last four weeks."], publish=False, summary="Approved by the office.")
    page = PolicyPage.objects.get(pk=page.pk)
    workflow = page.get_workflow()
    assert workflow is not None and workflow.name == OFFICE_WORKFLOW
    editor = factories.member(consortium["root"], CONSORTIUM_ADMIN, full_name="Edna Editor")
    state = workflow.start(page, editor)
    assert PolicyVersion.objects.filter(policy=page).count() == 1  # in moderation
    state.current_task_state.approve(user=office)

    version = PolicyVersion.objects.get(policy=page, number=2)
    assert "four weeks" in version.text
    assert version.authority_label.startswith("Approved by the office")
    assert version.published_by == office
