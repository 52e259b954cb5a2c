"""A staff member takes a two-lesson course, fails the quiz once, passes, downloads the
certificate; their director's report shows them complete."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from knowledge_base.training.selectors import quiz_of
from knowledge_base.training.services.assignment import AssignmentRequest, do_assign
from portal.members.roles import DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa
from tests.training.conftest import make_course

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery"


def answer(page, quiz, right: bool):
    for question in quiz.questions.prefetch_related("options"):
        for option in question.options.all():
            if option.correct == right:
                page.get_by_label(option.text, exact=True).check()
                if question.kind == "single" or not right:
                    break
    page.get_by_role("button", name="Submit answers").click()


def test_staff_member_completes_a_course_and_the_director_sees_it(page, live_server):
    root = factories.consortium()
    system = factories.library(root, name="Riverside Library System")
    branch = factories.library(system, name="Riverside Main")
    staff = factories.member(
        branch, STAFF, email="sam@example.org", full_name="Sam Staff", verified=True
    )
    director = with_mfa(factories.member(system, DIRECTOR, full_name="Dana Director"))
    course = make_course("Patron privacy", lessons=2, max_attempts=3)
    do_assign(director, AssignmentRequest(course, system, roles=[STAFF], libraries=[system]))
    quiz = quiz_of(course)

    # Sign in as the staff member; the dashboard lists the assigned course.
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    page.get_by_role("link", name="Patron privacy").click()

    page.get_by_role("link", name="Start the course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lesson 1")
    page.get_by_role("button", name="Mark as done and continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lesson 2")
    # Back to the first lesson, twice (the second visit is served from what the page
    # keeps of the person's enrolment and progress): it shows as done both times.
    for _ in range(2):
        page.locator("a[rel=prev]").click()
        expect(page.get_by_text("You have done this lesson.")).to_be_visible()
        page.locator("a[rel=next]").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Lesson 2")
        expect(page.get_by_text("You have done this lesson.")).to_have_count(0)
    page.get_by_role("button", name="Mark as done and continue").click()

    # Fail once, with feedback per answer.
    expect(page.get_by_role("heading", level=1)).to_have_text("Final quiz")
    answer(page, quiz, right=False)
    expect(page.locator("p.result")).to_have_attribute("data-passed", "no")
    expect(page.get_by_text("Never.")).to_be_visible()
    page.get_by_role("link", name="Try again").click()
    answer(page, quiz, right=True)
    expect(page.locator("p.result")).to_have_attribute("data-passed", "yes")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the certificate (PDF)").click()
    download = download_info.value
    with open(download.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    assert download.suggested_filename.startswith("certificate-")

    # The director's report, in a separate browser session.
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
    director_page = context.new_page()
    director_page.goto(f"/training/reports/{system.code}/")
    row = director_page.get_by_role("row").filter(has_text="Sam Staff")
    expect(row.locator('[data-status="completed"]')).to_be_visible()
    context.close()
