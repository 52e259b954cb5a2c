"""A lesson served before is found in one query (portal.home.routing), and the hint that
finds it can never serve a page that is no longer there."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from knowledge_base.training.models import CoursePage
from portal.home import routing

from .conftest import make_course

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client, world):
    cache.clear()
    course = make_course(lessons=2)
    client.force_login(world["staff_a"])
    client.post(f"/training/courses/{course.pk}/enrol/")
    return course


def visit(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return len(queries), response.status_code, response.content.decode()


def test_a_lesson_served_before_is_found_in_fewer_queries(client, reader):
    lesson = reader.lessons().first()
    walked, status, html = visit(client, lesson.url)
    assert status == 200 and "Part 1 of the law." in html
    hinted, status, html = visit(client, lesson.url)
    assert status == 200 and "Part 1 of the law." in html
    # The course's row and the walk's child lookup are no longer read; the first visit
    # also wrote where the person is.
    assert hinted <= walked - 2


def test_a_renamed_unpublished_or_deleted_lesson_is_not_served_at_its_old_address(client, reader):
    first, second = reader.lessons()
    old = first.url
    visit(client, old)
    visit(client, old)  # served from the hint
    first.slug = "renamed"
    first.save_revision().publish()
    assert visit(client, old)[1] == 404
    first.refresh_from_db()
    assert first.url != old
    status, html = visit(client, first.url)[1:]
    assert status == 200 and "Part 1 of the law." in html
    visit(client, second.url)
    second.unpublish()
    assert visit(client, second.url)[1] == 404
    renamed = first.url
    visit(client, renamed)  # a hint for the renamed address
    first.delete()
    assert visit(client, renamed)[1] == 404


def test_no_hint_is_kept_through_a_page_that_routes_its_own_way(client, reader, monkeypatch):
    monkeypatch.setattr(CoursePage, "routes_like_wagtail", False)
    lesson = reader.lessons().first()
    visit(client, lesson.url)  # writes where the person is
    visit(client, lesson.url)  # keeps their enrolment and progress (views.courses)
    again, status, _html = visit(client, lesson.url)
    walked_again, status, _html = visit(client, lesson.url)
    assert status == 200 and again == walked_again  # walked every time
    monkeypatch.setattr(CoursePage, "routes_like_wagtail", True)
    visit(client, lesson.url)
    assert visit(client, lesson.url)[0] < walked_again


def test_hints_kept_before_a_release_that_changes_how_pages_route_are_not_read(monkeypatch):
    before = routing._key("/home/patron-privacy/lesson-1/")
    monkeypatch.setattr(CoursePage, "routes_like_wagtail", False)
    routing._routing_shape.cache_clear()
    try:
        assert routing._key("/home/patron-privacy/lesson-1/") != before
    finally:
        monkeypatch.undo()
        routing._routing_shape.cache_clear()
    assert routing._key("/home/patron-privacy/lesson-1/") == before


def test_a_page_found_from_its_hint_is_still_behind_wagtails_view_restrictions(client, reader):
    from wagtail.models import PageViewRestriction

    lesson = reader.lessons().first()
    visit(client, lesson.url)
    assert visit(client, lesson.url)[1] == 200  # served from the hint
    PageViewRestriction.objects.create(
        page=reader, restriction_type=PageViewRestriction.PASSWORD, password="s3cret"
    )
    _queries, status, html = visit(client, lesson.url)
    # Wagtail's own password form, not the lesson: the restriction on the course holds
    # for a lesson reached without walking through the course.
    assert status == 200 and "Part 1 of the law." not in html
    assert 'name="password"' in html


def test_the_password_form_of_a_restricted_page_still_opens_it(client, reader):
    from wagtail.models import PageViewRestriction

    lesson = reader.lessons().first()
    visit(client, lesson.url)
    restriction = PageViewRestriction.objects.create(
        page=reader, restriction_type=PageViewRestriction.PASSWORD, password="s3cret"
    )
    form = reverse("wagtailcore_authenticate_with_password", args=[restriction.pk, lesson.pk])
    response = client.post(form, {"password": "s3cret", "return_url": lesson.url})
    assert response.status_code == 302 and response["Location"] == lesson.url
    status, html = visit(client, lesson.url)[1:]
    assert status == 200 and "Part 1 of the law." in html
