"""The policy page and the acknowledgement report keep a constant number of queries."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.formats import date_format

from knowledge_base.policies.models import (
    Acknowledgement,
    AcknowledgementCampaign,
    LocalProcedure,
    PolicyVersion,
)
from knowledge_base.policies.services.acknowledgement import check_acknowledge, do_acknowledge
from knowledge_base.policies.services.campaigns import do_start_campaign
from knowledge_base.policies.services.procedures import do_save_local_procedure
from knowledge_base.policies.views import reading
from portal.members.models import MemberLibrary, Membership
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa

from .conftest import new_policy, revise

pytestmark = pytest.mark.django_db


def grow_to(root, total, page):
    """Bulk-build member libraries under ``root`` (up to ``total``), each with two staff,
    a local procedure and one acknowledgement, so every row of the report has data."""
    children = MemberLibrary.objects.filter(path__startswith=root.path, depth=root.depth + 1)
    existing = children.count()
    last = children.order_by("-path").values_list("path", flat=True).first()
    start = int(last[-root.steplen :], 36) + 1 if last else 1
    libraries = [
        MemberLibrary(
            name=f"Bulk library {n:04}",
            code=f"bulk{n}",
            kind=MemberLibrary.Kind.SYSTEM,
            depth=root.depth + 1,
            path=MemberLibrary._get_path(root.path, root.depth + 1, n),
            numchild=0,
        )
        for n in range(start, start + total - existing)
    ]
    MemberLibrary.objects.bulk_create(libraries)
    MemberLibrary.objects.filter(pk=root.pk).update(numchild=total)
    users = get_user_model().objects.bulk_create(
        get_user_model()(email=f"bulk{lib.code}-{i}@example.org", full_name=f"Bulk {i}")
        for lib in libraries
        for i in range(2)
    )
    Membership.objects.bulk_create(
        Membership(user=user, library=libraries[n // 2], role=STAFF) for n, user in enumerate(users)
    )
    LocalProcedure.objects.bulk_create(
        LocalProcedure(policy=page, library=lib, text="Ask at the desk.") for lib in libraries
    )
    version = PolicyVersion.objects.get(policy=page, number=1)
    Acknowledgement.objects.bulk_create(
        Acknowledgement(user=user, policy=page, version=version, library=libraries[n // 2])
        for n, user in enumerate(users)
        if n % 2 == 0
    )


def count(client, user, url, cold=True):
    """Queries of one visit: cold (the cache cleared: what the policy page keeps worked
    out, the cost that must not grow) unless ``cold`` is false."""
    client.force_login(user)
    if cold:
        cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(ctx), response.content.decode()


@pytest.fixture
def setting(db):
    from .conftest import policy_library

    root = factories.consortium()
    home = factories.library(root, name="Aardvark Library System")
    page = new_policy(policy_library())
    return root, home, page


@pytest.mark.parametrize("role", [STAFF, CONSORTIUM_ADMIN])
def test_policy_page_queries_do_not_grow_from_10_to_500_libraries(client, setting, role):
    root, home, page = setting
    user = factories.member(root if role == CONSORTIUM_ADMIN else home, role)
    if role != STAFF:
        with_mfa(user)
    do_save_local_procedure(None, page, home, "Our own desk procedure.")
    url = reverse("policies:detail", args=[page.code])
    grow_to(root, 10, page)
    small, html = count(client, user, url)
    grow_to(root, 500, page)
    large, html_large = count(client, user, url)
    assert small == large
    # Kept: the policy's version line, its text and the person's local procedures (and
    # the session, which the cold visit reads from the database).
    kept, html_kept = count(client, user, url, cold=False)
    assert kept <= large - 3
    procedures = 'class="panel local-procedure"'
    assert html_kept.count(procedures) == html_large.count(procedures)
    assert "Our own desk procedure." in html
    # The office sees every library's procedure; staff only their own.
    assert html_large.count('class="panel local-procedure"') == (500 if role != STAFF else 1)


@pytest.mark.parametrize("role", [DIRECTOR, CONSORTIUM_ADMIN])
def test_acknowledgement_report_queries_do_not_grow_from_10_to_500_libraries(client, setting, role):
    root, home, page = setting
    user = with_mfa(factories.member(root if role == CONSORTIUM_ADMIN else home, role))
    factories.member(home, STAFF, email="home-staff@example.org")
    url = reverse("policies:report")
    grow_to(root, 10, page)
    small, html = count(client, user, url)
    csv_small, _ = count(client, user, url + "?format=csv")
    grow_to(root, 500, page)
    large, html_large = count(client, user, url)
    assert small == large
    assert "home-staff@example.org" in html
    if role == DIRECTOR:
        assert "Bulk library" not in html_large  # a director sees their own libraries only
    else:
        # A page of libraries at a time, with the rates of all of them.
        assert html_large.count('class="library-status"') == 25
        assert re.search(r"Page 1 of 2\d\b", html_large)
    csv_large, _ = count(client, user, url + "?format=csv")
    assert csv_small == csv_large


def test_policy_page_with_a_quiz_keeps_constant_queries(client, setting):
    from knowledge_base.policies.models import AcknowledgementCampaign
    from knowledge_base.training.models import Quiz
    from tests.training.conftest import make_course

    root, home, page = setting
    quiz = Quiz.objects.get(course=make_course(lessons=1))
    AcknowledgementCampaign.objects.filter(policy=page).update(quiz_key=f"training.quiz:{quiz.pk}")
    AcknowledgementCampaign.objects.get(policy=page).libraries.set([home])
    user = factories.member(home, STAFF)
    url = reverse("policies:detail", args=[page.code])
    grow_to(root, 10, page)
    small, html = count(client, user, url)
    grow_to(root, 500, page)
    large, _html = count(client, user, url)
    assert small == large
    assert 'name="q-' in html  # the quiz is asked, in place of the button


def test_the_kept_policy_page_shows_a_procedure_and_a_new_version_at_once(client, setting):
    # The policy's version line, text and local procedures are kept between visits
    # (portal.home.kept): a procedure written and a version published show on the next.
    root, home, page = setting
    user = factories.member(home, STAFF)
    url = reverse("policies:detail", args=[page.code])
    client.force_login(user)
    html = client.get(url).content.decode()
    assert "Version 1," in html and 'class="panel local-procedure"' not in html
    do_save_local_procedure(None, page, home, "Our own desk procedure.")
    assert "Our own desk procedure." in client.get(url).content.decode()
    revise(page, ["Loans last five weeks."])
    html = client.get(url).content.decode()
    assert "Version 2," in html and "Loans last five weeks." in html


def test_the_kept_policy_text_stays_kept_while_others_acknowledge(client, setting, monkeypatch):
    # Acknowledging moves the policies' panels on, not the version line and text that
    # everyone reads alike.
    root, home, page = setting
    url = reverse("policies:detail", args=[page.code])
    reader = factories.member(home, STAFF)
    count(client, reader, url)
    rendered = []

    def render(template_name, *args, **kwargs):
        rendered.append(template_name)
        return render_to_string(template_name, *args, **kwargs)

    monkeypatch.setattr(reading, "render_to_string", render)
    other = factories.member(home, STAFF, email="other-staff@example.org")
    version, library = check_acknowledge(other, page)
    do_acknowledge(other, version, library)
    _after, html = count(client, reader, url, cold=False)
    assert "Version 1," in html
    assert "policies/_text.html" not in rendered and "policies/_meta.html" not in rendered
    revise(page, ["Loans last five weeks."])
    _after, html = count(client, reader, url, cold=False)
    assert "Loans last five weeks." in html and "policies/_text.html" in rendered


def test_the_kept_campaigns_follow_a_campaign_ended_and_one_started_at_once(client, setting):
    # The policy page keeps its campaigns between visits (portal.home.kept.kept_value).
    root, home, page = setting
    url = reverse("policies:detail", args=[page.code])
    reader = factories.member(home, STAFF)
    client.force_login(reader)
    assert "acknowledge it by" in client.get(url).content.decode()
    AcknowledgementCampaign.objects.filter(policy=page).delete()
    assert "acknowledge it by" not in client.get(url).content.decode()
    due = datetime.date(2031, 3, 14)
    do_start_campaign(None, PolicyVersion.objects.get(policy=page), roles=[STAFF], due_date=due)
    html = client.get(url).content.decode()
    assert "acknowledge it by" in html and date_format(due, "DATE_FORMAT") in html
