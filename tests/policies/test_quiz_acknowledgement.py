"""A quiz as the acknowledgement, offered by the training plugin through the core's signals."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from knowledge_base.policies import selectors
from knowledge_base.policies.forms import quiz_choices
from knowledge_base.policies.models import Acknowledgement, AcknowledgementCampaign
from knowledge_base.policies.services.acknowledgement import (
    QuizRequired,
    check_acknowledge,
    check_acknowledge_by_quiz,
    do_acknowledge,
)
from knowledge_base.training.models import Quiz
from portal.audit.models import AuditEntry
from portal.members.models import LibraryPluginSwitch
from portal.members.roles import STAFF
from tests import factories
from tests.training.conftest import make_course, right_answers, wrong_answers

from .conftest import new_policy, revise

pytestmark = pytest.mark.django_db


def quiz_key(quiz):
    return f"training.quiz:{quiz.pk}"


@pytest.fixture
def quiz(db):
    return Quiz.objects.get(course=make_course(lessons=1))


@pytest.fixture
def staff(consortium):
    return factories.member(consortium["branches"][0], STAFF)


@pytest.fixture
def policy(consortium, library_page, quiz):
    return new_policy(library_page, acknowledgement_quiz=quiz_key(quiz))


def answer(client, page, answers, version):
    data = {f"q-{q}": options for q, options in answers.items()}
    data["version"] = str(version)
    return client.post(reverse("policies:acknowledge_by_quiz", args=[page.code]), data)


def test_training_offers_its_quizzes_to_the_policy_editor(quiz):
    assert (quiz_key(quiz), str(quiz)) in quiz_choices()


def test_campaign_names_the_quiz_and_a_plain_click_is_refused(client, policy, staff, quiz):
    assert AcknowledgementCampaign.objects.get(policy=policy).quiz_key == quiz_key(quiz)
    with pytest.raises(QuizRequired):
        check_acknowledge(staff, policy)
    client.force_login(staff)
    page = client.get(reverse("policies:detail", args=[policy.code]))
    assert b'name="q-' in page.content
    assert reverse("policies:acknowledge", args=[policy.code]).encode() not in page.content
    client.post(reverse("policies:acknowledge", args=[policy.code]), {"version": "1"})
    assert not Acknowledgement.objects.filter(user=staff).exists()


def test_failing_the_quiz_acknowledges_nothing(client, policy, staff, quiz):
    client.force_login(staff)
    answer(client, policy, wrong_answers(quiz), 1)
    assert not Acknowledgement.objects.filter(user=staff).exists()
    assert [o.policy.code for o in selectors.outstanding_for(staff)] == ["CIRC-004"]


def test_passing_the_quiz_acknowledges_exactly_the_current_version(
    client, policy, staff, quiz, django_capture_on_commit_callbacks
):
    revise(policy, ["Loans last four weeks."], acknowledgement_quiz=quiz_key(quiz))
    client.force_login(staff)
    # Answers given for version 1 (read before version 2 came out) acknowledge nothing.
    answer(client, policy, right_answers(quiz), 1)
    assert not Acknowledgement.objects.filter(user=staff).exists()
    with django_capture_on_commit_callbacks(execute=True):
        answer(client, policy, right_answers(quiz), 2)
    ack = Acknowledgement.objects.get(user=staff)
    assert ack.version.number == 2 and ack.method == Acknowledgement.Method.QUIZ
    assert ack.score == 100
    assert selectors.outstanding_for(staff) == []
    entry = AuditEntry.objects.get(action="policy.acknowledged")
    assert entry.data == {"code": "CIRC-004", "version": 2, "method": "quiz", "score": "100.00"}
    # A later material version asks for the quiz again: the pass was for version 2 only.
    revise(policy, ["Loans last five weeks."], acknowledgement_quiz=quiz_key(quiz))
    assert [o.policy.code for o in selectors.outstanding_for(staff)] == ["CIRC-004"]
    with pytest.raises(QuizRequired):
        check_acknowledge(staff, policy)


def test_training_switched_off_for_the_library_means_a_click_acknowledges(
    client, consortium, policy, staff
):
    LibraryPluginSwitch.objects.create(
        library=consortium["branches"][0], plugin="training", enabled=False
    )
    version, library = check_acknowledge(staff, policy)
    client.force_login(staff)
    page = client.get(reverse("policies:detail", args=[policy.code]))
    assert b'name="q-' not in page.content
    client.post(reverse("policies:acknowledge", args=[policy.code]), {"version": "1"})
    ack = Acknowledgement.objects.get(user=staff)
    assert ack.version == version and ack.method == Acknowledgement.Method.CLICK
    # And no quiz can be taken there instead.
    with pytest.raises(ValidationError):
        check_acknowledge_by_quiz(staff, policy, 1, {})


def test_a_quiz_no_plugin_offers_any_more_falls_back_to_a_click(policy, staff, quiz):
    quiz.delete()
    version, _library = check_acknowledge(staff, policy)
    assert version.number == 1


def test_without_the_training_plugin_there_is_no_quiz_and_a_click_acknowledges(policy, staff):
    from knowledge_base.training import reading_quizzes
    from portal.signals import reading_quiz
    from portal.signals import reading_quizzes as offers

    # As if the plugin were not installed: nobody answers the core's signals.
    reading_quiz.disconnect(dispatch_uid="training.reading_quiz")
    offers.disconnect(dispatch_uid="training.reading_quizzes")
    try:
        assert quiz_choices() == [("", quiz_choices()[0][1])]
        version, library = check_acknowledge(staff, policy)
        do_acknowledge(staff, version, library)
    finally:
        reading_quiz.connect(reading_quizzes.reading_quiz_for, dispatch_uid="training.reading_quiz")
        offers.connect(
            reading_quizzes.offer_reading_quizzes, dispatch_uid="training.reading_quizzes"
        )
    assert Acknowledgement.objects.get(user=staff).method == Acknowledgement.Method.CLICK


def test_the_report_tells_a_quiz_from_a_click(client, consortium, policy, staff, quiz):
    from portal.members.roles import DIRECTOR
    from tests.factories import with_mfa

    branch = consortium["branches"][0]
    clicker = factories.member(branch, STAFF, email="clicker@example.org")
    LibraryPluginSwitch.objects.create(library=branch, plugin="training", enabled=False)
    version, library = check_acknowledge(clicker, policy)
    do_acknowledge(clicker, version, library)
    LibraryPluginSwitch.objects.filter(library=branch, plugin="training").delete()
    client.force_login(staff)
    answer(client, policy, right_answers(quiz), 1)
    director = with_mfa(factories.member(branch, DIRECTOR, email="director@example.org"))
    client.force_login(director)
    rows = client.get(reverse("policies:report") + "?format=csv").content.decode().splitlines()
    how = {row.split(",")[6]: row.split(",")[-1] for row in rows[1:]}
    assert how[staff.email] == "quiz" and how["clicker@example.org"] == "click"
    assert how["director@example.org"] == ""  # not yet acknowledged
    page = client.get(reverse("policies:report")).content.decode()
    assert page.count('class="by-quiz"') == 1
