"""The acknowledgement report at consortium scale: filters, a rate per policy, pages of
libraries, and reminders to those who have not acknowledged (once a day each)."""

import pytest
from django.core import mail
from django.urls import reverse

from knowledge_base.policies.services.acknowledgement import check_acknowledge, do_acknowledge
from portal.members.roles import DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa

from .conftest import new_policy

pytestmark = pytest.mark.django_db


def test_filter_rates_and_reminders(
    client, consortium, library_page, django_capture_on_commit_callbacks
):
    branch = consortium["branches"][0]
    page = new_policy(library_page)
    staff = [factories.member(branch, STAFF, email=f"s{i}@example.org") for i in range(3)]
    director = with_mfa(factories.member(branch, DIRECTOR, email="director@example.org"))
    version, library = check_acknowledge(staff[0], page, None)
    do_acknowledge(staff[0], version, library)
    client.force_login(director)
    url = reverse("policies:report")

    report = client.get(url, {"policy": page.code}).content.decode()
    assert "<caption>" in report and "1 of 4" in report and 'value="25"' in report
    nothing = client.get(url, {"library": "no such library"}).content.decode()
    assert "No library to report on." in nothing

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"{url}?policy={page.code}", follow=True)
    assert "Reminders are on their way to 3 people." in answer.content.decode()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        ["director@example.org", "s1@example.org", "s2@example.org"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"{url}?policy={page.code}", follow=True)
    assert "3 were already reminded today." in again.content.decode()
    assert len(mail.outbox) == 3
