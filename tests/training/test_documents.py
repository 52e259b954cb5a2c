"""The training PDFs (certificate, a library's report, the office's report) are tagged
PDF/UA-1 and pass an independent PDF/UA checker (tests/pdf_ua.py)."""

import pytest

from knowledge_base.training.services.assignment import AssignmentRequest, do_assign
from portal.members.roles import STAFF
from tests import factories
from tests.pdf_ua import assert_accessible_pdf

from .conftest import make_course
from .test_completion import complete
from .test_reports import get

pytestmark = pytest.mark.django_db


@pytest.fixture
def assigned(world, course):
    do_assign(world["office"], AssignmentRequest(course, world["root"], roles=[STAFF]))
    complete(world["staff_a"], course)
    return course


def test_certificate_pdf(client, world, assigned, tmp_path):
    certificate = complete(world["staff_a"], assigned).completion.certificate
    client.force_login(world["staff_a"])
    pdf = client.get(f"/training/certificates/{certificate.code}/pdf/").content
    reader = assert_accessible_pdf(
        pdf, tmp_path, "certificate", title=f"Certificate {certificate.code}"
    )
    text = reader.pages[0].extract_text()
    assert certificate.holder_name in text and certificate.code in text


def test_training_report_pdfs(client, world, assigned, tmp_path):
    # A report as a library has it: several people, several courses.
    for n in range(4):
        factories.member(world["branch_a1"], STAFF, full_name=f"Staff Member {n}")
    second = make_course("Cataloguing basics")
    for course in (assigned, second):
        request = AssignmentRequest(course, world["root"], roles=[STAFF])
        do_assign(world["office"], request)
    library = world["system_a"]
    pdf = get(client, world["director_a"], f"/training/reports/{library.code}/?format=pdf").content
    assert_accessible_pdf(pdf, tmp_path, "library-report", title=f"Training at {library.name}")
    pdf = get(client, world["office"], "/training/reports/office/?format=pdf").content
    assert_accessible_pdf(pdf, tmp_path, "office-report", title="Training across the consortium")
