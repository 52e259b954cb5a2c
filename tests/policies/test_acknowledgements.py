"""Acknowledgement: who must acknowledge, old versions vs material and minor changes, audit."""

import pytest
from django.urls import reverse

from knowledge_base.policies import selectors
from knowledge_base.policies.models import Acknowledgement
from knowledge_base.policies.services.acknowledgement import check_acknowledge, do_acknowledge
from portal.audit.models import AuditEntry
from portal.members.models import LibraryPluginSwitch
from portal.members.roles import COMMUNICATIONS, STAFF
from tests import factories

from .conftest import new_policy, revise

pytestmark = pytest.mark.django_db


def acknowledge(user, page, django_capture_on_commit_callbacks=None):
    version, library = check_acknowledge(user, page)
    return do_acknowledge(user, version, library)


def codes(user):
    return [o.policy.code for o in selectors.outstanding_for(user)]


def test_staff_must_acknowledge_and_the_acknowledgement_is_audited(
    consortium, library_page, django_capture_on_commit_callbacks
):
    page = new_policy(library_page)
    staff = factories.member(consortium["branches"][0], STAFF)
    assert codes(staff) == ["CIRC-004"]
    with django_capture_on_commit_callbacks(execute=True):
        ack = acknowledge(staff, page)
    assert ack.version.number == 1 and ack.library == consortium["branches"][0]
    assert codes(staff) == []
    entry = AuditEntry.objects.get(action="policy.acknowledged")
    assert entry.actor == staff and entry.data == {"code": "CIRC-004", "version": 1}
    # Acknowledging twice keeps one record.
    acknowledge(staff, page)
    assert Acknowledgement.objects.filter(user=staff).count() == 1


def test_old_version_does_not_count_for_a_material_change(consortium, library_page):
    page = new_policy(library_page)
    staff = factories.member(consortium["systems"][0], STAFF)
    acknowledge(staff, page)
    revise(page, ["Loans last two weeks."], material=True)
    [item] = selectors.outstanding_for(staff)
    assert item.campaign.version.number == 2
    assert item.acknowledged_number == 1  # so the page shows them the diff from v1


def test_old_version_still_counts_after_a_minor_change(consortium, library_page):
    page = new_policy(library_page)
    staff = factories.member(consortium["systems"][0], STAFF)
    newcomer = factories.member(consortium["systems"][0], STAFF)
    acknowledge(staff, page)
    revise(
        page, ["Loans last three weeks.", "Two renewals are allowed, online too."], material=False
    )
    assert codes(staff) == []
    assert codes(newcomer) == ["CIRC-004"]
    acknowledge(newcomer, page)  # acknowledges v2, which counts for the v1 campaign
    assert codes(newcomer) == []


def test_material_page_shows_the_diff_and_the_button(client, consortium, library_page):
    page = new_policy(library_page)
    staff = factories.member(consortium["systems"][0], STAFF)
    acknowledge(staff, page)
    revise(page, ["Loans last two weeks.", "Two renewals are allowed."], material=True)
    client.force_login(staff)
    html = client.get(reverse("policies:detail", args=["CIRC-004"])).content.decode()
    assert "Your acknowledgement is required" in html
    # The changed word, marked in its clause.
    assert "diff-changed" in html
    assert '<del><span class="visually-hidden"> removed </span>three</del>' in html
    assert '<ins><span class="visually-hidden"> added </span>two</ins>' in html
    response = client.post(reverse("policies:acknowledge", args=["CIRC-004"]), {"version": "2"})
    assert response.status_code == 302
    assert Acknowledgement.objects.get(user=staff, version__number=2)
    html = client.get(reverse("policies:detail", args=["CIRC-004"])).content.decode()
    assert "Your acknowledgement is required" not in html


def test_campaign_reaches_only_chosen_roles_and_libraries(consortium, library_page):
    page = new_policy(library_page)
    campaign = page.campaigns.get()
    campaign.roles = [STAFF]
    campaign.save()
    campaign.libraries.set([consortium["systems"][0]])
    branch_staff = factories.member(consortium["branches"][0], STAFF)  # under systems[0]
    other_staff = factories.member(consortium["systems"][1], STAFF)
    comms = factories.member(consortium["systems"][0], COMMUNICATIONS)
    assert codes(branch_staff) == ["CIRC-004"]
    assert codes(other_staff) == []
    assert codes(comms) == []


def test_nobody_is_asked_where_the_plugin_is_switched_off(consortium, library_page):
    new_policy(library_page)
    system = consortium["systems"][1]
    staff = factories.member(system, STAFF)
    LibraryPluginSwitch.objects.create(library=system, plugin="policies", enabled=False)
    assert codes(staff) == []


def test_report_counts_only_acknowledgements_of_the_required_version(consortium, library_page):
    page = new_policy(library_page)
    system = consortium["systems"][0]
    a = factories.member(system, STAFF)
    b = factories.member(system, STAFF)
    acknowledge(a, page)
    acknowledge(b, page)
    revise(page, ["Loans last two weeks."], material=True)
    acknowledge(b, page)
    [row] = selectors.acknowledgement_report([system])
    [status] = row.campaigns
    assert status.campaign.version.number == 2
    assert {p.membership.user for p in status.people if p.acknowledged_at} == {b}
    assert {p.membership.user for p in status.missing} == {a}


def test_the_kept_dashboard_drops_an_acknowledged_policy_at_once(client, consortium, library_page):
    page = new_policy(library_page)
    staff = factories.member(consortium["branches"][0], STAFF)
    client.force_login(staff)
    before = client.get(reverse("dashboard")).content.decode()
    assert 'class="policy-todo"' in before and "CIRC-004" in before
    response = client.post(reverse("policies:acknowledge", args=[page.code]))
    assert response.status_code in (200, 302)
    assert Acknowledgement.objects.filter(user=staff).exists()
    html = client.get(reverse("dashboard")).content.decode()
    assert 'class="policy-todo"' not in html
    assert "You have no policy waiting for your acknowledgement." in html
