"""A staff member opens an assigned policy from the dashboard and acknowledges it; their
director's acknowledgement report then shows it."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from portal.members.roles import DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa
from tests.policies.conftest import new_policy, policy_library

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery"


def test_staff_member_acknowledges_a_policy_and_the_director_sees_it(page, live_server):
    root = factories.consortium()
    system = factories.library(root, name="Riverside Library System")
    branch = factories.library(system, name="Riverside Main")
    staff = factories.member(
        branch, STAFF, email="sam@example.org", full_name="Sam Staff", verified=True
    )
    director = with_mfa(factories.member(system, DIRECTOR, full_name="Dana Director"))
    new_policy(policy_library(), title="Lending and circulation")

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    panel = page.locator('section[data-plugin="policies"]')
    panel.get_by_role("link", name="CIRC-004 Lending and circulation").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("CIRC-004 · Lending and circulation")
    expect(page.get_by_text("1.1 Loans last three weeks.")).to_be_visible()
    page.get_by_role("button", name="I have read and acknowledge version 1").click()
    expect(page.get_by_text("You acknowledged CIRC-004 version 1.")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("acknowledge version"))).to_have_count(0)

    # The director's report, in a separate browser session.
    director_page, context = _director_session(page, live_server, director)
    director_page.goto("/policies/reports/acknowledgements/")
    section = director_page.locator(f'section[data-library="{branch.code}"]')
    row = section.get_by_role("row").filter(has_text="Sam Staff")
    expect(row).to_have_class("done")
    expect(section.get_by_role("heading", level=2)).to_contain_text("1 of 1 acknowledged")
    context.close()


def _director_session(page, live_server, director):
    client = Client()
    client.force_login(director)
    context = page.context.browser.new_context(base_url=live_server.url)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return context.new_page(), context


def test_staff_member_acknowledges_by_passing_the_quiz(page, live_server):
    from knowledge_base.training.models import Quiz
    from tests.training.conftest import make_course

    root = factories.consortium()
    system = factories.library(root, name="Riverside Library System")
    staff = factories.member(
        system, STAFF, email="sam@example.org", full_name="Sam Staff", verified=True
    )
    director = with_mfa(factories.member(system, DIRECTOR, full_name="Dana Director"))
    quiz = Quiz.objects.get(course=make_course(lessons=1))
    new_policy(policy_library(), acknowledgement_quiz=f"training.quiz:{quiz.pk}")

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/policies/CIRC-004/")
    expect(page.get_by_role("button", name=re.compile("I have read"))).to_have_count(0)
    submit = page.get_by_role("button", name="Submit my answers and acknowledge version 1")
    # A wrong answer acknowledges nothing.
    page.get_by_label("Anyone who asks").check()
    page.get_by_label("Name").check()
    submit.click()
    expect(page.get_by_text(re.compile("not enough to pass"))).to_be_visible()
    page.get_by_label("The patron").check()
    page.get_by_label("Name").check()
    page.get_by_label("Loan history").check()
    submit.click()
    expect(
        page.get_by_text("You passed the quiz and acknowledged CIRC-004 version 1.")
    ).to_be_visible()
    expect(submit).to_have_count(0)

    director_page, context = _director_session(page, live_server, director)
    director_page.goto("/policies/reports/acknowledgements/")
    section = director_page.locator(f'section[data-library="{system.code}"]')
    expect(section.get_by_role("row").filter(has_text="Sam Staff")).to_have_class("done")
    context.close()
