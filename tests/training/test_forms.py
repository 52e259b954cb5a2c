"""Every training POST goes through a form: bad input is an error beside its field, never a
server error; the reports' library list pages and filters instead of stopping at 500."""

import pytest

from knowledge_base.training.models import Enrolment
from knowledge_base.training.views import reports
from portal.members.models import MemberLibrary, Membership
from tests import factories
from tests.queries import get_counting_queries

pytestmark = pytest.mark.django_db


def test_an_impossible_due_date_is_an_error_beside_the_field(client, world, course):
    client.force_login(world["director_a"])
    response = client.post(
        f"/training/courses/{course.pk}/assign/",
        {
            "library": world["system_a"].code,
            "due_on": "2026-02-30",
            "days_to_complete": "0",
            "roles": ["no-such-role"],
        },
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"due_on", "days_to_complete", "roles"}
    assert "Enter a valid date." in response.content.decode()
    assert not Enrolment.objects.filter(course=course).exists()


def test_the_assign_form_groups_libraries_by_system(client, world, course):
    client.force_login(world["office"])
    html = client.get(f"/training/courses/{course.pk}/assign/").content.decode()
    # One select grouped by system, and the "only these" boxes in a fieldset per system.
    assert html.count("<optgroup") >= 2
    assert f"<legend>{world['system_a'].name}</legend>" in html
    assert f'value="{world["branch_a1"].code}"' in html


def test_only_these_libraries_are_ticked_boxes(client, world, course):
    client.force_login(world["director_a"])
    response = client.post(
        f"/training/courses/{course.pk}/assign/",
        {
            "library": world["system_a"].code,
            "libraries": [world["branch_a1"].code],
            "days_to_complete": "14",
        },
    )
    assert response.status_code == 302
    assert Enrolment.objects.filter(course=course, user=world["staff_a"]).exists()


def test_a_quiz_post_without_its_attempt_is_not_found(client, world, course):
    client.force_login(world["staff_a"])
    client.post(f"/training/courses/{course.pk}/enrol/")
    for lesson in course.lessons():
        client.post(f"/training/lessons/{lesson.pk}/done/")
    response = client.post(f"/training/courses/{course.pk}/quiz/", {"attempt": "one"})
    assert response.status_code == 404


def test_the_report_list_pages_and_filters_with_constant_queries(client, world, monkeypatch):
    monkeypatch.setattr(reports, "PAGE_SIZE", 4)
    client.force_login(world["office"])
    client.get("/training/reports/")
    few, _ = get_counting_queries(client, "/training/reports/")
    for n in range(9):
        factories.library(world["root"], kind=MemberLibrary.Kind.LIBRARY, name=f"Lakeside {n}")
    # A new library makes what was kept of every person stale: warmed again, as ``few`` was.
    client.get("/training/reports/?page=2")
    many, response = get_counting_queries(client, "/training/reports/?page=2")
    assert many == few
    total = response.context["libraries"].paginator.count
    assert total == MemberLibrary.objects.count() and total > 8
    _, response = get_counting_queries(client, "/training/reports/?q=lakeside")
    page = response.context["libraries"]
    assert page.paginator.count == 9
    assert "q=lakeside&amp;page=2" in response.content.decode()


def test_the_office_report_pages_libraries_and_keeps_the_consortium_totals(
    client, world, monkeypatch
):
    monkeypatch.setattr(reports, "PAGE_SIZE", 3)
    for n in range(5):
        factories.library(world["root"], kind=MemberLibrary.Kind.LIBRARY, name=f"Lakeside {n}")
    client.force_login(world["office"])
    response = client.get("/training/reports/office/")
    rows = response.context["rows"]
    assert len(rows.object_list) == 3
    assert rows.paginator.count == MemberLibrary.objects.count()
    # The totals are the consortium's, not the page's.
    people = Membership.objects.values("library_id", "user_id").distinct().count()
    assert response.context["totals"].people == people >= 4
    found = client.get("/training/reports/office/?q=lakeside").context["rows"]
    assert found.paginator.count == 5
