"""The plugins' demo seeders, run by ``manage.py seed_demo`` as ``bin/demo`` runs it."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.utils import timezone
from wagtail.models import Page, Site

from governance.models import Ballot, Committee, Meeting, Proposal, SecretChoice
from governance.services.closing import count
from knowledge_base.policies.models import (
    Acknowledgement,
    AcknowledgementCampaign,
    PolicyPage,
    PolicyVersion,
)
from knowledge_base.training.models import Certificate, CoursePage, Enrolment, Quiz
from plugins.announcements import selectors as announcements
from plugins.announcements.models import AnnouncementIndexPage, AnnouncementPage
from portal import access
from portal.members.models import MemberLibrary, Membership
from portal.members.roles import STAFF
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def debug(settings):
    settings.DEBUG = True


def seed(**options):
    """seed_demo, with what it schedules on commit run as a real commit would run it."""
    options = {"libraries": 12, "staff_per_library": 2, "patrons": 100, **options}
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("seed_demo", stdout=io.StringIO(), **options)


@pytest.fixture(scope="module", autouse=True)
def seeded(django_db_setup, django_db_blocker):
    """One demo for the module; the mail its commit sent."""
    with factories.built_once(django_db_blocker), override_settings(DEBUG=True):
        outbox = len(mail.outbox)
        seed()
        yield list(mail.outbox[outbox:])


def home():
    return Site.objects.get(is_default_site=True).root_page


def test_governance_votes_are_cast_by_the_directors():
    assert set(Committee.objects.values_list("slug", flat=True)) == {"board", "shared-catalogue"}
    open_votes = Proposal.objects.filter(state=Proposal.State.OPEN)
    assert open_votes.count() == 1
    vote = open_votes.get()
    now = timezone.now()
    assert vote.accepting_ballots() and now < vote.closes_at < now + timezone.timedelta(days=6)
    ballots = list(vote.ballots.select_related("cast_by", "library"))
    assert ballots
    eligible = set(vote.eligibilities.values_list("library_id", flat=True))
    for ballot in ballots:
        # Each ballot is the library's own director's, and the library may vote on this.
        assert ballot.library_id in eligible
        assert ballot.cast_by.email == f"director.{ballot.library.code}@example.org"
        assert access.can(ballot.cast_by, "governance.cast_ballot", ballot.library)
        assert ballot.authority == "director"
    decided = Proposal.objects.filter(state__in=[Proposal.State.DECIDED, Proposal.State.FAILED])
    assert decided.count() == 3
    assert {p.state for p in decided} == {Proposal.State.DECIDED, Proposal.State.FAILED}
    for proposal in decided:
        assert proposal.result and proposal.closes_at < now and proposal.announced_at
        # The published result is the count of the stored ballots.
        assert count(proposal).as_dict() == proposal.result
        assert all(b.cast_at <= proposal.closes_at for b in proposal.ballots.all())
    secret = decided.get(secret=True)
    assert secret.ballots.exists()
    assert not secret.ballots.exclude(choice=None).exists()
    assert SecretChoice.objects.filter(proposal=secret).count() == secret.ballots.count()
    assert Ballot.objects.filter(proposal__secret=False, choice=None).count() == 0
    meetings = Meeting.objects.all()
    assert meetings.count() == 2
    assert all(m.agenda_items.count() >= 4 for m in meetings)
    assert meetings.filter(agenda_items__proposal=vote).exists()


def test_policies_have_versions_and_a_campaign():
    policies = PolicyPage.objects.live()
    codes = set(policies.values_list("code", flat=True))
    assert {"CIRC-001", "PRIV-001", "COND-001", "COLL-001", "FINE-001"} <= codes
    assert len(codes) == 8
    assert all(p.get_parent().specific_class.__name__ == "PolicyLibraryPage" for p in policies)
    assert all(len(p.body) >= 3 for p in policies)
    for policy in policies:
        numbers = list(policy.versions.order_by("number").values_list("number", flat=True))
        assert numbers == list(range(1, len(numbers) + 1))
    assert PolicyVersion.objects.filter(number=2).count() == 2
    campaign = AcknowledgementCampaign.objects.get()
    assert campaign.version.code == "PRIV-001" and campaign.version.number == 2
    assert campaign.due_date > timezone.localdate()
    acks = Acknowledgement.objects.filter(version=campaign.version)
    assert acks.exists()
    assert all(Membership.objects.filter(user=a.user, library=a.library).exists() for a in acks)


def test_the_assigned_course_enrols_every_member_of_staff():
    courses = CoursePage.objects.live().child_of(home())
    assert courses.count() == 2
    for course in courses:
        assert course.lessons().count() == 3
        assert Quiz.objects.get(course=course).questions.count() >= 2
    privacy = courses.get(slug="patron-privacy")
    staff = set(Membership.objects.filter(role=STAFF).values_list("user_id", flat=True))
    enrolled = Enrolment.objects.filter(course=privacy, current=True)
    assert set(enrolled.values_list("user_id", flat=True)) == staff
    assert all(e.due and e.due > timezone.localdate() for e in enrolled)
    assert enrolled.filter(state=Enrolment.State.COMPLETED).exists()
    assert enrolled.filter(state=Enrolment.State.IN_PROGRESS).exists()
    for enrolment in enrolled.filter(state=Enrolment.State.COMPLETED):
        assert Certificate.objects.filter(completion__enrolment=enrolment).exists()


def test_announcements_reach_staff_through_the_selector(seeded):
    index = AnnouncementIndexPage.objects.get()
    assert index.get_parent().pk == home().pk
    pages = AnnouncementPage.objects.live().child_of(index)
    assert pages.count() >= 6
    assert len(set(pages.values_list("category", flat=True))) >= 4
    urgent = pages.get(priority=AnnouncementPage.Priority.URGENT)
    target = urgent.audience_libraries.get()
    branch = MemberLibrary.objects.filter(path__startswith=target.path, depth=3).first()
    User = get_user_model()
    inside = User.objects.get(email=f"staff1.{(branch or target).code}@example.org")
    outside_library = MemberLibrary.objects.filter(kind=MemberLibrary.Kind.LIBRARY).first()
    outside = User.objects.get(email=f"staff1.{outside_library.code}@example.org")
    seen_inside = set(announcements.announcements_for(inside).values_list("pk", flat=True))
    seen_outside = set(announcements.announcements_for(outside).values_list("pk", flat=True))
    assert urgent.pk in seen_inside and urgent.pk not in seen_outside
    everyone = pages.filter(audience=AnnouncementPage.Audience.EVERYONE, audience_roles="")
    assert set(everyone.values_list("pk", flat=True)) <= seen_outside
    # The directors-only notice is not shown to staff.
    directors_only = pages.get(audience_roles=",director,")
    assert directors_only.pk not in seen_outside
    # The urgent notice was emailed to its audience when the seed committed.
    assert any(urgent.title in message.subject for message in seeded)


def test_reset_seeds_again_without_duplicates():
    counts = (
        Page.objects.count(),
        Proposal.objects.count(),
        PolicyVersion.objects.count(),
        CoursePage.objects.count(),
        AnnouncementPage.objects.count(),
    )
    seed(reset=True)
    assert (
        Page.objects.count(),
        Proposal.objects.count(),
        PolicyVersion.objects.count(),
        CoursePage.objects.count(),
        AnnouncementPage.objects.count(),
    ) == counts
    assert Page.find_problems() == ([], [], [], [], [])
    assert Proposal.objects.filter(state=Proposal.State.OPEN).count() == 1
    assert Committee.objects.count() == 2


def test_the_dashboard_shows_each_plugin_to_staff(
    client,
):
    library = MemberLibrary.objects.filter(kind=MemberLibrary.Kind.SYSTEM).first()
    user = get_user_model().objects.get(email=f"staff1.{library.code}@example.org")
    client.force_login(user)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Patron privacy and confidentiality" in html  # training
    assert "Courier suspended" in html  # announcements (urgent, to this system)
    assert "PRIV-001" in html or "Patron privacy and confidentiality of library" in html
    assert "Lengthen the loan period" in html or "Open votes" in html
