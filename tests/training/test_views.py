"""The pages a person goes through, reminders, the dashboard panel and course packages."""

import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from wagtail.models import Site

from knowledge_base.training import exchange
from knowledge_base.training.models import CoursePage, Enrolment, LessonPage, ReminderSent
from knowledge_base.training.selectors import quiz_of
from knowledge_base.training.services.enrolment import check_enrol, do_enrol
from portal.members.models import Membership
from portal.signals import periodic
from tests import factories
from tests.queries import get_counting_queries, record_cache_reads

from .conftest import make_course

pytestmark = pytest.mark.django_db


def test_course_lesson_quiz_flow_through_the_pages(client, world, course):
    client.force_login(world["staff_a"])
    page = client.get(course.url)
    assert page.status_code == 200 and "Enrol" in page.content.decode()
    response = client.post(f"/training/courses/{course.pk}/enrol/")
    lessons = list(course.lessons())
    assert response["Location"] == lessons[0].url
    lesson = client.get(lessons[0].url).content.decode()
    assert "Part 1 of the law." in lesson and 'rel="next"' in lesson and "Keep it." in lesson
    response = client.post(f"/training/lessons/{lessons[0].pk}/done/")
    assert response["Location"] == lessons[1].url
    # Resume where they left off.
    assert lessons[1].url in client.get(course.url).content.decode()
    response = client.post(f"/training/lessons/{lessons[1].pk}/done/")
    assert response["Location"] == f"/training/courses/{course.pk}/quiz/"
    quiz_html = client.get(response["Location"]).content.decode()
    attempt = re.search(r'name="attempt" value="(\d+)"', quiz_html).group(1)
    quiz = quiz_of(course)
    data = {"attempt": attempt}
    for q in quiz.questions.prefetch_related("options"):
        data[f"q{q.pk}"] = [o.pk for o in q.options.all() if o.correct]
    result = client.post(f"/training/courses/{course.pk}/quiz/", data).content.decode()
    assert 'data-passed="yes"' in result and "/pdf/" in result
    transcript = client.get("/training/me/").content.decode()
    assert "Patron privacy" in transcript and "Completed" in transcript


def test_a_lesson_reads_a_fixed_number_of_queries_and_writes_nothing_read_again(
    client, world, course
):
    client.force_login(world["staff_a"])
    client.post(f"/training/courses/{course.pk}/enrol/")
    lesson = course.lessons().first()

    def visit():
        client.get(lesson.url)  # remembers where the person is; reads their standing
        client.get(lesson.url)  # keeps their enrolment and progress
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(lesson.url).content.decode()
        assert "Part 1 of the law." in html
        assert not any(
            q["sql"].startswith(("SAVEPOINT", "INSERT", "UPDATE")) for q in ctx.captured_queries
        )
        return len(ctx)

    few = visit()
    for _ in range(30):
        factories.library(world["system_a"])
    assert make_course("Customer service", lessons=12).lessons().count() == 12
    # The session, the person, the site with its home page, the lesson (found directly:
    # it was served before, portal.home.routing), Wagtail's view restrictions (2) and
    # the consortium's name; the plugin switches, the person's grants, their enrolment
    # and progress, and the lesson's text and place in the course are kept.
    assert visit() == few == 7


def test_a_lesson_reads_what_it_keeps_in_one_round_trip(client, world, monkeypatch):
    # The lesson's course, text and pager, and the person's enrolment and progress, are
    # kept (portal.home.kept): visited again, a lesson asks the cache for the four at
    # once, with the two generations they must have been made in and the lesson's route
    # hint (portal.home.routing), not one after another.
    from portal.home import kept, panels, routing

    course = make_course(lessons=2)
    client.force_login(world["staff_a"])
    client.post(f"/training/courses/{course.pk}/enrol/")
    lesson = course.lessons().first()
    client.get(lesson.url)
    client.get(lesson.url)  # found from its hint from now on: the course is kept too
    reads = record_cache_reads(monkeypatch, kept)
    read_alone = [
        record_cache_reads(monkeypatch, panels),
        record_cache_reads(monkeypatch, routing),
    ]
    html = client.get(lesson.url).content.decode()
    assert "Part 1 of the law." in html
    assert len(reads) == 1 and read_alone == [[], []]
    hint, *generations = [key for key in reads[0] if not key.startswith("concord:kept:")]
    assert hint.startswith("concord:route:")
    assert generations == [
        "concord:panel:generation:training:shared",
        "concord:panel:generation:training",
    ]
    assert [key.split(":")[3] for key in reads[0] if key.startswith("concord:kept:")] == [
        "course",
        "lesson-text",
        "lesson-pager",
        "taking",
    ]


def test_a_lesson_reads_what_it_asks_for_now_not_what_it_asked_before(client, world):
    # The parts read with the route hint are those the address asked for the last time;
    # a page that asks for others reads them, and what it asks for is right either way.
    from portal.home import kept

    course = make_course(lessons=2)
    client.force_login(world["staff_a"])
    client.post(f"/training/courses/{course.pk}/enrol/")
    lesson = course.lessons().first()
    client.get(lesson.url)
    client.get(lesson.url)
    path = lesson.url
    label, parts = kept._ASKED_AT[path]
    kept._ASKED_AT[path] = (label, (("lesson-text", False, (-1,)), ("gone", True, ())))
    html = client.get(lesson.url).content.decode()
    assert "Part 1 of the law." in html and "Mark as done and continue" in html
    assert kept._ASKED_AT[path] == (label, parts)
    client.logout()
    response = client.get(lesson.url)  # a visitor: nobody's own parts are read
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def read_from_what_is_kept(client, url) -> str:
    """The lesson at ``url``, asserting that the person's enrolment and progress came from
    what the page keeps, not the database."""
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(url).content.decode()
    assert not any("training_enrolment" in q["sql"] for q in ctx.captured_queries)
    assert not any("training_lessonprogress" in q["sql"] for q in ctx.captured_queries)
    return html


def test_the_kept_enrolment_follows_what_the_person_reads_and_finishes(client, world, course):
    # A lesson keeps the person's enrolment and progress between visits (views.courses):
    # where they resume, what they finished and a withdrawn enrolment show at once.
    staff = world["staff_a"]
    client.force_login(staff)
    client.post(f"/training/courses/{course.pk}/enrol/")
    first, second = course.lessons()

    def read(lesson) -> str:
        client.get(lesson.url)  # writes where the person is, if it moved
        client.get(lesson.url)  # keeps it
        return read_from_what_is_kept(client, lesson.url)

    read(first)
    read(second)
    read(first)  # both lessons seen; the first kept as where they are
    client.get(second.url)  # moves them on without a new row of progress
    client.get(first.url)
    enrolment = Enrolment.objects.get(user=staff, course=course)
    assert enrolment.last_lesson_id == first.pk  # they resume here, not at the second
    assert "You have done this lesson." not in read(first)
    client.post(f"/training/lessons/{first.pk}/done/")
    assert "You have done this lesson." in read(first)
    enrolment.current = False  # as a new cycle of the course does (recertification)
    enrolment.save(update_fields=["current"])
    response = client.get(first.url)
    assert response.status_code == 302 and response["Location"] == course.url


def test_the_kept_enrolment_never_outlives_the_right_to_take_the_course(client, world, course):
    # The enrolment is kept; whether the person may take courses at its library is
    # decided on every visit.
    staff = world["staff_a"]
    client.force_login(staff)
    client.post(f"/training/courses/{course.pk}/enrol/")
    lesson = course.lessons().first()
    client.get(lesson.url)
    client.get(lesson.url)
    assert "Part 1 of the law." in read_from_what_is_kept(client, lesson.url)
    Membership.objects.filter(user=staff).delete()
    response = client.get(lesson.url)
    assert response.status_code == 302 and response["Location"] == course.url


def test_the_kept_lesson_shows_a_new_lesson_an_edit_and_the_quiz_at_once(client, world):
    # What everyone reads of a lesson is kept between visits (portal.home.kept): a lesson
    # added, a lesson edited, the quiz removed must show on the next visit.
    course = make_course(lessons=2)
    client.force_login(world["staff_a"])
    client.post(f"/training/courses/{course.pk}/enrol/")
    last = course.lessons().last()
    html = client.get(last.url).content.decode()
    assert "Lesson 2 of 2" in html and 'rel="next"' not in html and "Quiz" in html
    course.add_child(
        instance=LessonPage(
            title="Lesson 3", slug="lesson-3", body=[{"type": "text", "value": "<p>More.</p>"}]
        )
    )
    html = client.get(last.url).content.decode()
    assert "Lesson 2 of 3" in html and 'rel="next"' in html
    last.body = [{"type": "text", "value": "<p>Part 2, as amended.</p>"}]
    last.save_revision().publish()
    assert "Part 2, as amended." in client.get(last.url).content.decode()
    lesson_3 = course.lessons().last()
    assert "Quiz" in client.get(lesson_3.url).content.decode()
    quiz_of(course).delete()
    assert "Quiz" not in client.get(lesson_3.url).content.decode()


def test_the_kept_lesson_stays_kept_while_others_enrol(client, world, course):
    # What people do (enrol, read, finish a lesson) moves the training panels on, not the
    # lesson's text and place in the course, which everyone reads alike.
    client.force_login(world["staff_a"])
    client.post(f"/training/courses/{course.pk}/enrol/")
    lesson = course.lessons().first()
    client.get(lesson.url)
    warm, _ = get_counting_queries(client, lesson.url)
    other = Client()
    other.force_login(world["staff_b"])
    other.post(f"/training/courses/{course.pk}/enrol/")  # a new enrolment: panels move on
    after, response = get_counting_queries(client, lesson.url)
    assert "Part 1 of the law." in response.content.decode()
    assert after == warm  # neither the text nor the place in the course worked out again


def test_the_kept_lesson_shows_its_new_course_at_once_after_a_move(client, world):
    # Wagtail moves a page without saving it: the move itself drops what is kept.
    first = make_course("Patron privacy", lessons=2)
    second = make_course("Customer service", lessons=1)
    client.force_login(world["staff_a"])
    client.post(f"/training/courses/{first.pk}/enrol/")
    lesson = first.lessons().last()
    html = client.get(lesson.url).content.decode()
    assert "Lesson 2 of 2" in html
    client.post(f"/training/courses/{second.pk}/enrol/")
    lesson.move(second, pos="last-child")
    lesson.refresh_from_db()
    html = client.get(lesson.url).content.decode()
    assert "Lesson 2 of 2" in html and "Customer service" in html and "Patron privacy" not in html


def test_lessons_need_an_enrolment_and_a_login(client, world, course):
    lesson = course.lessons().first()
    assert client.get(lesson.url).status_code == 302
    client.force_login(world["staff_a"])
    assert client.get(lesson.url)["Location"] == course.url
    assert client.post(f"/training/lessons/{lesson.pk}/done/").status_code == 403


def test_dashboard_panel_lists_assigned_courses_with_due_dates(client, world, course):
    library = check_enrol(world["staff_a"], course)
    do_enrol(world["staff_a"], course, library, due=timezone.localdate())
    client.force_login(world["staff_a"])
    html = client.get("/dashboard/").content.decode()
    assert "Patron privacy" in html and "due" in html


def test_reminders_one_email_per_person_and_never_twice(
    world, course, django_capture_on_commit_callbacks
):
    other = make_course("Customer service")
    far = make_course("Later")
    today = timezone.localdate()
    staff = world["staff_a"]
    lib = check_enrol(staff, course)
    do_enrol(staff, course, lib, due=today + timedelta(days=3))
    do_enrol(staff, other, lib, due=today - timedelta(days=2))
    do_enrol(staff, far, lib, due=today + timedelta(days=60))
    # The beat's fan-out; the email task runs (eagerly) once the transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "Patron privacy" in body and "Customer service" in body and "Later" not in body
    assert "overdue" in body and mail.outbox[0].to == [staff.email]
    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())
    assert len(mail.outbox) == 1
    assert ReminderSent.objects.count() == 2


def test_course_package_round_trip(world, course):
    package = exchange.export_course(course)
    assert package["format"] == "concord-course" and package["version"] == 1
    text = json.dumps(package)
    root = Site.objects.get(is_default_site=True).root_page
    copy = exchange.import_course(root, json.loads(text))
    assert copy.pk != course.pk and copy.slug == "patron-privacy-2"
    assert [lesson.title for lesson in copy.lessons()] == ["Lesson 1", "Lesson 2"]
    assert copy.lessons().first().body.raw_data[0]["value"] == "<p>Part 1 of the law.</p>"
    quiz = quiz_of(copy)
    assert quiz.pass_mark == 100 and quiz.questions.count() == 2
    assert sum(o.correct for q in quiz.questions.all() for o in q.options.all()) == 3
    assert CoursePage.objects.count() == 2
    with pytest.raises(exchange.PackageError):
        exchange.import_course(root, {**package, "version": 99})
    with pytest.raises(exchange.PackageError):
        exchange.import_course(root, {"format": "something-else"})


def test_export_view_is_for_course_managers(client, world, course):
    client.force_login(world["staff_a"])
    assert client.get(f"/training/courses/{course.pk}/export.json").status_code == 403
    client.force_login(world["office"])
    response = client.get(f"/training/courses/{course.pk}/export.json")
    assert response.json()["course"]["title"] == "Patron privacy"


def test_assign_page_enrols_the_chosen_role(client, world, course):
    client.force_login(world["director_a"])
    assert client.get(f"/training/courses/{course.pk}/assign/").status_code == 200
    response = client.post(
        f"/training/courses/{course.pk}/assign/",
        {"library": world["system_a"].code, "roles": ["staff"], "days_to_complete": "14"},
    )
    assert response.status_code == 302
    assert Enrolment.objects.filter(course=course, user=world["staff_a"]).exists()
    assert not Enrolment.objects.filter(course=course, user=world["staff_b"]).exists()
    response = client.post(
        f"/training/courses/{course.pk}/assign/",
        {"library": world["system_b"].code, "roles": ["staff"], "days_to_complete": "14"},
    )
    # Not a library they may assign for: it is not offered, and the form says so.
    assert response.status_code == 400
    assert "library" in response.context["form"].errors
    assert not Enrolment.objects.filter(course=course, user=world["staff_b"]).exists()


def test_the_kept_dashboard_follows_a_finished_lesson_at_once(client, world, course):
    staff = world["staff_a"]
    library = check_enrol(staff, course)
    do_enrol(staff, course, library, due=timezone.localdate())
    client.force_login(staff)
    assert "(in progress)" not in client.get("/dashboard/").content.decode()
    first, second = list(course.lessons())[:2]
    assert client.post(f"/training/lessons/{first.pk}/done/").status_code in (200, 302)
    assert "(in progress)" in client.get("/dashboard/").content.decode()
