"""The acknowledgement report's CSV defuses formulas in every text cell, the email too."""

import csv
import io

import pytest
from django.urls import reverse

from portal.members.roles import DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa

from .conftest import new_policy

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_report_csv_cells_cannot_run_as_formulas(client, consortium, library_page, start):
    branch = consortium["branches"][0]
    new_policy(library_page)
    factories.member(branch, STAFF, email=f"{start}2+5@example.org", full_name="\tTab Person")
    director = with_mfa(factories.member(branch, DIRECTOR, email="director@example.org"))
    client.force_login(director)
    text = client.get(reverse("policies:report") + "?format=csv").content.decode()
    rows = list(csv.reader(io.StringIO(text)))
    emails = [row[6] for row in rows[1:]]
    assert f"'{start}2+5@example.org" in emails
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)
