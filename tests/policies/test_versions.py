"""Versions: every publication is kept and citable, minor/material, and any two can be diffed."""

import pytest
from django.urls import reverse
from wagtail.models import Site

from knowledge_base.policies import selectors
from knowledge_base.policies.models import AcknowledgementCampaign, PolicyVersion
from knowledge_base.policies.services.library import setup_policy_library
from portal.audit.models import AuditEntry
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR
from portal.signals import policy_published
from tests import factories
from tests.factories import with_mfa

from .conftest import new_policy, revise

pytestmark = pytest.mark.django_db


def test_each_publication_is_a_numbered_version_with_its_own_text(
    consortium, library_page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = new_policy(library_page)
        revise(page, ["Loans last four weeks.", "Two renewals are allowed."], summary="Longer.")
    versions = list(PolicyVersion.objects.filter(policy=page).order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert "1.1 Loans last three weeks." in versions[0].text
    assert "1.1 Loans last four weeks." in versions[1].text
    assert versions[1].change_summary == "Longer."
    assert versions[0].authority_label  # who authorised it is always recorded
    # The old text is still rendered from its own snapshot, not from the live page.
    assert "three weeks" in str(versions[0].stream[1].value)
    assert AuditEntry.objects.filter(action="policy.published").count() == 2


def test_republishing_the_same_revision_adds_no_version(consortium, library_page):
    page = new_policy(library_page)
    page.live_revision.publish()
    assert PolicyVersion.objects.filter(policy=page).count() == 1


def test_minor_change_keeps_the_material_base_and_opens_no_campaign(consortium, library_page):
    page = new_policy(library_page)
    revise(page, ["Loans last three weeks.", "Two renewals are allowed!"], material=False)
    revise(page, ["Loans last two weeks."], material=True)
    v1, v2, v3 = PolicyVersion.objects.filter(policy=page).order_by("number")
    assert (v1.material_base, v2.material_base, v3.material_base) == (1, 1, 3)
    assert list(
        AcknowledgementCampaign.objects.filter(policy=page)
        .order_by("version__number")
        .values_list("version__number", flat=True)
    ) == [1, 3]


def test_diff_between_any_two_versions_marks_the_words_that_changed(consortium, library_page):
    page = new_policy(library_page)
    revise(page, ["Loans last four weeks.", "Two renewals are allowed."])
    revise(page, ["Loans last four weeks.", "Three renewals are allowed."])
    v1, _v2, v3 = PolicyVersion.objects.filter(policy=page).order_by("number")
    lines = selectors.diff_versions(v1, v3)
    changed = [line for line in lines if line.kind == "changed"]
    # A one-word edit is that word, not the clause removed and added again.
    assert [line.text for line in changed] == [
        "1.1 Loans last four weeks.",
        "1.2 Three renewals are allowed.",
    ]
    assert [[(p.kind, p.text) for p in line.parts if p.kind != "same"] for line in changed] == [
        [("removed", "three"), ("added", "four")],
        [("removed", "Two"), ("added", "Three")],
    ]
    assert not [line for line in lines if line.kind in ("removed", "added")]
    assert any(line.kind == "same" and line.text == "1. Loans" for line in lines)


def test_a_rewritten_clause_shows_removed_and_added_whole():
    lines = selectors.diff_lines(
        "1.1 Loans last three weeks.\n1.2 Keep it.",
        "1.1 Fines are abolished for children under twelve.\n1.2 Keep it.\n1.3 New.",
    )
    assert [(line.kind, line.text) for line in lines] == [
        ("removed", "1.1 Loans last three weeks."),
        ("added", "1.1 Fines are abolished for children under twelve."),
        ("same", "1.2 Keep it."),
        ("added", "1.3 New."),
    ]


def test_policy_published_is_sent_after_commit(
    consortium, library_page, django_capture_on_commit_callbacks
):
    received = []

    def receiver(sender, policy, version, material, **kwargs):
        received.append((policy.code, version.number, material))

    policy_published.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            page = new_policy(library_page)
            revise(page, ["Loans last a month."], material=False)
    finally:
        policy_published.disconnect(receiver)
    assert received == [("CIRC-004", 1, True), ("CIRC-004", 2, False)]


def test_the_page_tree_serves_a_policy_as_its_portal_address_does(client, consortium):
    # Under the site's home page, as the demo has it, so the page has an address of its own.
    home = Site.objects.get(is_default_site=True).root_page
    page = new_policy(setup_policy_library(home))
    assert page.url == "/policy-library/circ-004/"
    reader = factories.member(consortium["root"], DIRECTOR)
    client.force_login(with_mfa(reader))
    through_tree = client.get(page.url)
    assert through_tree.status_code == 200
    html = through_tree.content.decode()
    assert "Version 1, in effect since" in html and "Loans last three weeks." in html
    assert "Preview of a draft" not in html
    # The library page itself leads to the portal's index, which checks every policy.
    library = page.get_parent().specific
    assert client.get(library.url)["Location"] == reverse("policies:index")
    assert not library.is_previewable()
    client.logout()
    assert client.get(page.url)["Location"].endswith(f"?next={page.url}")


def test_the_editor_previews_a_draft_of_a_policy(client, consortium, library_page):
    page = new_policy(library_page)
    revision = revise(page, ["Loans last four weeks."], publish=False)
    office = with_mfa(factories.member(consortium["root"], CONSORTIUM_ADMIN))
    client.force_login(office)
    response = client.get(reverse("wagtailadmin_pages:revisions_view", args=[page.pk, revision.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Preview of a draft: not yet in force." in html
    assert "Loans last four weeks." in html and "Loans last three weeks." not in html
