"""The policy PDFs (the manual, one version, the acknowledgement report) are tagged
PDF/UA-1, the manual PDF/A-2a too, and pass an independent PDF/UA checker."""

import pytest
from django.urls import reverse

from knowledge_base.policies.models import PolicyPage
from knowledge_base.policies.services.acknowledgement import check_acknowledge, do_acknowledge
from portal.members.roles import CONSORTIUM_ADMIN, STAFF
from tests import factories
from tests.factories import with_mfa
from tests.pdf_ua import assert_accessible_pdf

from .conftest import new_policy

pytestmark = pytest.mark.django_db


def full_body(heading: str) -> list[dict]:
    """Sections, clauses, a table with a header row and a callout: every kind of block."""
    blocks = []
    for s in (1, 2):
        blocks.append({"type": "section", "value": {"heading": f"{heading} {s}", "intro": ""}})
        blocks += [
            {"type": "clause", "value": f"<p>Loans of kind {s}.{c} last three weeks.</p>"}
            for c in (1, 2, 3)
        ]
    blocks.append(
        {
            "type": "table",
            "value": {
                "first_row_is_table_header": True,
                "first_col_is_header": False,
                "data": [["Material", "Loan", "Renewals"]]
                + [[f"Type {i}", f"{7 * i} days", str(i % 3)] for i in range(1, 5)],
            },
        }
    )
    blocks.append(
        {"type": "callout", "value": {"kind": "note", "text": "<p>Ask the office first.</p>"}}
    )
    return blocks


@pytest.fixture
def policies(library_page):
    pages = []
    for code, title in (("CIRC-004", "Lending and circulation"), ("PRIV-001", "Patron privacy")):
        page = new_policy(library_page, code=code, title=title)
        draft = PolicyPage.objects.get(pk=page.pk).get_latest_revision_as_object()
        draft.body = full_body(title)
        draft.change_summary = "Tables and notes."
        draft.save_revision().publish()
        pages.append(page)
    return pages


def test_policy_manual_and_version_pdfs(client, consortium, policies, tmp_path):
    client.force_login(factories.member(consortium["systems"][0], STAFF))
    manual = client.get(reverse("policies:manual_pdf")).content
    reader = assert_accessible_pdf(manual, tmp_path, "manual", title="Policy manual", archival=True)
    assert "Patron privacy" in "".join(page.extract_text() for page in reader.pages)
    version = client.get(reverse("policies:version_pdf", args=["PRIV-001", 2])).content
    assert_accessible_pdf(version, tmp_path, "version", title="PRIV-001 v2")


def test_acknowledgement_report_pdf(client, consortium, policies, tmp_path):
    staff = factories.member(consortium["systems"][0], STAFF)
    version, library = check_acknowledge(staff, policies[0])
    do_acknowledge(staff, version, library)
    factories.member(consortium["systems"][1], STAFF)
    office = with_mfa(factories.member(consortium["root"], CONSORTIUM_ADMIN))
    client.force_login(office)
    pdf = client.get(reverse("policies:report_pdf")).content
    assert_accessible_pdf(pdf, tmp_path, "acknowledgements", title="Policy acknowledgements")
