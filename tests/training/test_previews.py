"""The editor's preview of a course or lesson: the page's own text and lessons, without the
enrolment, progress and buttons that the portal's view adds for the person reading it."""

import pytest
from django.urls import reverse

from tests import factories
from tests.factories import with_mfa

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    user = with_mfa(factories.person(is_superuser=True, full_name="Eda Editor"))
    client.force_login(user)
    return user


def preview(client, page):
    revision = page.save_revision()
    return client.get(reverse("wagtailadmin_pages:revisions_view", args=[page.pk, revision.pk]))


def test_the_editor_previews_a_course(client, editor, course):
    response = preview(client, course)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Patron privacy</h1>" in html and "About 20 minutes" in html
    assert "Lesson 1" in html and "Lesson 2" in html
    assert "the pass mark is 100%" in html
    assert "Enrol" not in html


def test_the_editor_previews_a_new_course(client, editor, course):
    parent = course.get_parent()
    add = reverse("wagtailadmin_pages:preview_on_add", args=["training", "coursepage", parent.pk])
    data = {"title": "Reference interviews", "slug": "reference-interviews"}
    data.update({"estimated_minutes": "15", "audience": ""})
    assert client.post(add, data).json()["is_valid"]
    html = client.get(add).content.decode()
    assert "<h1>Reference interviews</h1>" in html and "Enrol" not in html


def test_the_editor_previews_a_lesson_in_its_course(client, editor, course):
    lesson = course.lessons().first()
    response = preview(client, lesson)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Part 1 of the law." in html and "Lesson 1 of 2" in html
    assert 'rel="next"' in html and "Mark as done" not in html
