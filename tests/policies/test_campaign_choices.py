"""Acknowledgement campaigns chosen at publication: roles, libraries and the due date."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from knowledge_base.policies import selectors
from knowledge_base.policies.choices import default_acknowledging_roles
from knowledge_base.policies.models import AcknowledgementCampaign, PolicyPage
from knowledge_base.policies.services.adoption import check_open_change, do_open_change
from knowledge_base.policies.services.campaigns import check_start_campaign
from portal.audit.models import AuditEntry
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from portal.signals import proposal_decided
from tests import factories
from tests.factories import with_mfa

from .conftest import new_policy, revise

pytestmark = pytest.mark.django_db


def codes(user):
    return [o.policy.code for o in selectors.outstanding_for(user)]


@pytest.fixture
def office(consortium):
    return with_mfa(factories.member(consortium["root"], CONSORTIUM_ADMIN))


def test_published_version_asks_only_the_chosen_roles_and_libraries_by_the_chosen_date(
    consortium, library_page, django_capture_on_commit_callbacks
):
    page = new_policy(library_page)
    chosen, other = consortium["systems"]
    due = timezone.localdate() + datetime.timedelta(days=12)
    with django_capture_on_commit_callbacks(execute=True):
        revise(
            page,
            ["Loans last four weeks."],
            acknowledgement_roles=[DIRECTOR],
            acknowledgement_libraries=[chosen],
            acknowledge_by=due,
        )
    campaign = AcknowledgementCampaign.objects.get(version__number=2)
    assert campaign.roles == [DIRECTOR] and campaign.due_date == due
    assert list(campaign.libraries.all()) == [chosen]
    director_here = with_mfa(factories.member(chosen, DIRECTOR))
    staff_here = factories.member(chosen, STAFF)
    director_there = with_mfa(factories.member(other, DIRECTOR))
    branch = next(b for b in consortium["branches"] if b.path.startswith(chosen.path))
    director_of_branch = with_mfa(factories.member(branch, DIRECTOR))
    assert "CIRC-004" in codes(director_here)
    assert "CIRC-004" in codes(director_of_branch)  # a system reaches its branches
    outstanding = {o.policy.code: o for o in selectors.outstanding_for(director_here)}
    assert outstanding["CIRC-004"].campaign.pk == campaign.pk
    # Version 1 (everyone) was superseded by version 2's material change.
    assert codes(staff_here) == [] and codes(director_there) == []
    entry = AuditEntry.objects.get(action="policy.campaign_started", data__version=2)
    assert entry.data["roles"] == [DIRECTOR] and entry.data["libraries"] == [chosen.pk]


def test_defaults_when_nothing_is_chosen(consortium, library_page):
    page = new_policy(library_page, acknowledgement_days=10)
    campaign = AcknowledgementCampaign.objects.get(policy=page)
    assert set(campaign.roles) == set(default_acknowledging_roles())
    assert campaign.libraries.count() == 0
    assert campaign.due_date == timezone.localdate() + datetime.timedelta(days=10)


def test_a_change_adopted_by_a_committee_keeps_the_editors_choice(consortium, library_page, office):
    page = new_policy(library_page)
    chosen = consortium["systems"][1]
    revise(
        page,
        ["Loans last four weeks."],
        publish=False,
        acknowledgement_roles=[STAFF],
        acknowledgement_libraries=[chosen],
    )
    page = PolicyPage.objects.get(pk=page.pk)
    change = do_open_change(office, page, check_open_change(office, page))
    proposal_decided.send(
        sender=consortium["root"], proposal=None, outcome="passed", subject=change
    )
    campaign = AcknowledgementCampaign.objects.get(version__number=2)
    assert campaign.roles == [STAFF] and list(campaign.libraries.all()) == [chosen]


def test_start_campaign_service_checks_roles_date_version_and_permission(
    consortium, library_page, office
):
    page = new_policy(library_page)
    v1 = page.versions.get()
    staff = factories.member(consortium["systems"][0], STAFF)
    soon = timezone.localdate() + datetime.timedelta(days=5)
    with pytest.raises(PermissionDenied):
        check_start_campaign(staff, v1, roles=[STAFF], libraries=[], due_date=soon)
    with pytest.raises(ValidationError):
        check_start_campaign(office, v1, roles=[], libraries=[], due_date=soon)
    with pytest.raises(ValidationError):
        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        check_start_campaign(office, v1, roles=[STAFF], libraries=[], due_date=yesterday)
    revise(page, ["Changed."])
    with pytest.raises(ValidationError):  # v1 is no longer current
        check_start_campaign(office, v1, roles=[STAFF], libraries=[], due_date=soon)


def test_page_editor_offers_roles_libraries_and_due_date(client, consortium, library_page, office):
    page = new_policy(library_page)
    client.force_login(office)
    response = client.get(reverse("wagtailadmin_pages:edit", args=[page.pk]))
    assert response.status_code == 200
    form = response.context["form"]
    for name in ("acknowledgement_roles", "acknowledgement_libraries", "acknowledge_by"):
        assert name in form.fields
    roles = dict(form.fields["acknowledgement_roles"].choices)
    assert DIRECTOR in roles and STAFF in roles and CONSORTIUM_ADMIN not in roles
    assert b'name="acknowledgement_roles"' in response.content


def test_admin_campaign_form_opens_a_campaign_through_the_service(
    client, consortium, library_page, office, django_capture_on_commit_callbacks
):
    page = new_policy(library_page, acknowledgement_days=0)
    version = page.versions.get()
    chosen = consortium["systems"][0]
    client.force_login(office)
    due = timezone.localdate() + datetime.timedelta(days=20)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("acknowledgementcampaign:add"),
            {
                "policy": page.pk,
                "version": version.pk,
                "roles": [STAFF],
                "libraries": [chosen.pk],
                "due_date": due.isoformat(),
            },
        )
    assert response.status_code == 302, response.context["form"].errors
    campaign = AcknowledgementCampaign.objects.get(policy=page)
    assert campaign.roles == [STAFF] and campaign.due_date == due and campaign.created_by == office
    assert AuditEntry.objects.filter(action="policy.campaign_started").exists()


def test_a_due_date_left_from_an_earlier_version_gives_way_to_the_days(consortium, library_page):
    page = new_policy(library_page)
    past = timezone.localdate() - datetime.timedelta(days=3)
    # The revision still carries the date chosen for an earlier version.
    revise(page, ["Loans last four weeks."], acknowledgement_days=14, acknowledge_by=past)
    campaign = AcknowledgementCampaign.objects.get(version__number=2)
    assert campaign.due_date == timezone.localdate() + datetime.timedelta(days=14)
    revise(page, ["Loans last five weeks."], acknowledgement_days=0, acknowledge_by=past)
    assert not AcknowledgementCampaign.objects.filter(version__number=3).exists()
