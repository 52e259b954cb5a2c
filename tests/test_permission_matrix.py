"""The permission matrix: every URL of every plugin × role × own library / another library;
and, generated from the role definitions themselves, every role × every permission × its
own library, one below it, one above it and another (``test_every_role_*`` at the end).

The resolver is walked for every mounted URL. Each plugin and core URL has a row in
``MATRIX``: the method it is used with, which object of library A ("own") and of library B
("other") it is asked about, and the outcome written out for each person: a visitor not
signed in, a signed-in stranger with no role, staff, communications, a trainer and a
director of library A, and the consortium office. A URL that appears without a row fails
``test_every_mounted_url_has_an_expectation``, so the matrix grows with the portal.

The world (two member libraries and an object of each plugin on each side) is built once
for the module inside a transaction that is rolled back at the end; every request runs in
a savepoint of its own, so a write by one person is never seen by the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from wagtail.models import Site

from portal.home import views as home_views
from portal.members.models import Membership
from portal.members.roles import COMMUNICATIONS, CONSORTIUM_ADMIN, DIRECTOR, STAFF, TRAINER
from tests import factories
from tests.factories import with_mfa

ANON = "anonymous"
STRANGER = "stranger"  # signed in, no role anywhere
OFFICE = CONSORTIUM_ADMIN
WHO = [ANON, STRANGER, STAFF, COMMUNICATIONS, TRAINER, DIRECTOR, OFFICE]

LOGIN = "login"  # a redirect to the sign-in page
MOVED = "moved"  # a redirect elsewhere: an action done, or a form sent back to its page


# --- the world --------------------------------------------------------------------------


@dataclass
class World:
    people: dict = field(default_factory=dict)
    # name -> (kwargs for library A's object, kwargs for library B's object)
    args: dict = field(default_factory=dict)
    # name -> (POST data on A's side, on B's side)
    data: dict = field(default_factory=dict)
    # Pages Wagtail serves at their own place in the page tree: (who, url)
    tree_pages: list = field(default_factory=list)


def _announcements(w, a, b):
    from plugins.announcements import services

    def publish(title, library):
        draft = services.Draft(title=title, body="<p>News</p>", libraries=[library])
        services.check_publish_announcement(w.people[OFFICE], draft)
        return services.do_publish_announcement(w.people[OFFICE], draft)

    page_a, page_b = publish("For A", a), publish("For B", b)
    w.args["announcement"] = ({"pk": page_a.pk}, {"pk": page_b.pk})
    w.tree_pages.append((STAFF, page_a.url))
    from plugins.announcements.selectors import preference_of

    now = timezone.localtime()
    w.args["month"] = ({"year": now.year, "month": now.month},) * 2
    w.args["feed"] = ({"token": preference_of(w.people[STAFF]).feed_token},) * 2


def _governance(w, a, b):
    from governance.models import Meeting, Proposal
    from governance.services.closing import close_proposal
    from governance.services.proposals import do_open_proposal

    office = w.people[OFFICE]
    open_ = do_open_proposal(
        office,
        Proposal.objects.create(title="Open vote", closes_at=timezone.now() + timedelta(days=3)),
    )
    final = do_open_proposal(
        office,
        Proposal.objects.create(title="Decided", closes_at=timezone.now() + timedelta(days=3)),
    )
    Proposal.objects.filter(pk=final.pk).update(
        opens_at=timezone.now() - timedelta(days=2), closes_at=timezone.now() - timedelta(seconds=1)
    )
    close_proposal(final.pk)
    meeting = Meeting.objects.create(title="Spring meeting", starts_at=timezone.now())
    w.args["proposal"] = ({"pk": open_.pk},) * 2
    w.args["final"] = ({"pk": final.pk},) * 2
    w.args["meeting"] = ({"pk": meeting.pk},) * 2
    # A director votes for their own library, then tries to vote for library B.
    w.args["vote"] = ({"pk": open_.pk}, {"pk": open_.pk})
    w.data["governance:vote"] = (
        {"library": a.pk, "choice": "yes"},
        {"library": b.pk, "choice": "yes"},
    )
    w.data["governance:manage"] = (
        {"action": "extend"},
    ) * 2  # refused for want of a time, beside the field: no change
    w.data["governance:comment"] = ({"body": "A question about the budget."},) * 2


def _policies(w, a, b):
    from knowledge_base.policies.models import LocalProcedure, PolicyChange
    from knowledge_base.policies.services.library import setup_policy_library
    from tests.policies.conftest import new_policy, revise

    # Below the site's home page, as in the portal: the policy has an address of its own.
    page = new_policy(setup_policy_library(Site.objects.get(is_default_site=True).root_page))
    revision = revise(page, ["Loans last four weeks."], publish=False)
    change = PolicyChange.objects.create(policy=page, revision=revision)
    for library in (a, b):
        LocalProcedure.objects.create(policy=page, library=library, text="Ask at the desk.")
    w.args["policy"] = ({"code": page.code},) * 2
    w.tree_pages.append((STAFF, page.url))
    w.args["policy_version"] = ({"code": page.code, "number": 1},) * 2
    w.args["policy_local"] = (
        {"code": page.code, "library_code": a.code},
        {"code": page.code, "library_code": b.code},
    )
    w.args["policy_change"] = ({"pk": change.pk},) * 2


def _training(w, a, b):
    from knowledge_base.training.models import Certificate, Completion, Enrolment
    from tests.training.conftest import make_course

    course = make_course()
    lesson = course.get_children().first()
    # Staff at A are enrolled, so the quiz and the lessons open for them.
    Enrolment.objects.create(user=w.people[STAFF], course=course, library=a)

    def certificate(user, library):
        enrolment = Enrolment.objects.create(
            user=user, course=course, library=library, state=Enrolment.State.COMPLETED
        )
        completion = Completion.objects.create(
            enrolment=enrolment, user=user, course=course, library=library
        )
        return Certificate.objects.create(
            completion=completion,
            user=user,
            course=course,
            library=library,
            holder_name=user.email,
            course_title=course.title,
            library_name=library.name,
        )

    # Another person's certificate at A: a person's own would be theirs whatever their role.
    cert_a = certificate(w.people["colleague_a"], a)
    cert_b = certificate(w.people["staff_b"], b)
    w.args["course"] = ({"course_id": course.pk},) * 2
    w.tree_pages += [(STAFF, course.url), (STAFF, lesson.url)]
    w.args["lesson"] = ({"lesson_id": lesson.pk},) * 2
    w.args["certificate"] = ({"code": cert_a.code}, {"code": cert_b.code})


def _patron_notices(w, a, b):
    from plugins.patron_notices.directory import services
    from plugins.patron_notices.models import (
        Contact,
        Delivery,
        ImportJob,
        Notice,
        Patron,
        PrintRun,
    )
    from plugins.patron_notices.notices import links

    contact = Contact.objects.create(email="reader@example.net")
    patron = Patron.objects.create(
        library=a, card_number="A1", email=contact.email, contact=contact
    )
    contact_b = Contact.objects.create(email="other@example.net")
    patron_b = Patron.objects.create(
        library=b, card_number="B1", email=contact_b.email, contact=contact_b
    )
    notice = Notice.objects.create(
        title="Closure",
        state=Notice.State.DONE,
        versions=[
            (
                "version",
                {"language": "en", "subject": "Closed", "body": [("paragraph", "<p>Shut.</p>")]},
            )
        ],
    )
    # Sent to library A's patrons only: its public web copy exists for A, not for B.
    notice.libraries.set([a])
    delivery = Delivery.objects.create(
        notice=notice, contact=contact, patron=patron, library=a, language="en"
    )
    # A delivery to B's patron too, so the progress has B's counts to keep from A's people.
    Delivery.objects.create(
        notice=notice, contact=contact_b, patron=patron_b, library=b, language="en"
    )
    jobs = [
        ImportJob.objects.create(
            library=library, file=ContentFile(b"card\n", name="p.csv"), status="done"
        )
        for library in (a, b)
    ]
    w.args["library_code"] = ({"code": a.code}, {"code": b.code})
    w.args["notice_library"] = (
        {"pk": notice.pk, "code": a.code},
        {"pk": notice.pk, "code": b.code},
    )
    w.args["archive"] = tuple(
        {"pk": notice.pk, "code": library.code, "language": "en"} for library in (a, b)
    )
    w.args["import"] = ({"pk": jobs[0].pk}, {"pk": jobs[1].pk})
    runs = [
        PrintRun.objects.create(
            notice=notice,
            library=library,
            state="done",
            file=ContentFile(b"%PDF-1.4\n", name="letters.pdf"),
        )
        for library in (a, b)
    ]
    w.args["print_run"] = ({"pk": runs[0].pk}, {"pk": runs[1].pk})
    # Each library's decision on the sent notice: A's people see A's, never B's.
    from plugins.patron_notices.models import LibraryParticipation

    comms_b = factories.member(b, COMMUNICATIONS, email="comms@b.example.org")
    for library, who, paragraph in ((a, COMMUNICATIONS, "A-PARAGRAPH"), (b, None, "B-PARAGRAPH")):
        LibraryParticipation.objects.create(
            notice=notice,
            library=library,
            decision="approved",
            local_paragraph=paragraph,
            decided_by=w.people[who] if who else comms_b,
        )
    w.args["sent_notice"] = ({"pk": notice.pk},) * 2
    w.args["cancel"] = ({"pk": notice.pk, "action": "cancel"},) * 2
    # Drafts belong to their author's library: one by A's communications person, one by B's.
    drafts = [
        Notice.objects.create(title=f"Draft of {library.name}", versions=notice.versions, author=by)
        for library, by in ((a, w.people[COMMUNICATIONS]), (b, comms_b))
    ]
    w.args["draft"] = ({"pk": drafts[0].pk}, {"pk": drafts[1].pk})
    # A notice for library B's patrons only: library A has nothing to take part in.
    outside = Notice.objects.create(
        title="For B only", versions=notice.versions, state=Notice.State.APPROVED
    )
    outside.libraries.set([b])
    w.args["outside_audience"] = (
        {"pk": outside.pk, "code": a.code},
        {"pk": outside.pk, "code": b.code},
    )
    w.data["patron_notices:participate@outside"] = ({"decision": "approved"},) * 2
    w.args["preference_token"] = ({"token": services.preference_token(contact)},) * 2
    w.args["unsubscribe_token"] = ({"token": links.unsubscribe_token(delivery.pk)},) * 2


def build_world() -> World:
    w = World()
    root = factories.consortium()
    a = factories.library(root, name="Library A")
    b = factories.library(root, name="Library B")
    w.people[OFFICE] = with_mfa(factories.member(root, OFFICE, email="office@example.org"))
    for role in (STAFF, COMMUNICATIONS, TRAINER):
        w.people[role] = factories.member(a, role, email=f"{role}@a.example.org")
    w.people[DIRECTOR] = with_mfa(factories.member(a, DIRECTOR, email="director@a.example.org"))
    w.people[STRANGER] = factories.person("stranger@example.org")
    w.people["colleague_a"] = factories.member(a, STAFF, email="colleague@a.example.org")
    w.people["staff_b"] = factories.member(b, STAFF, email="staff@b.example.org")
    with_mfa(factories.member(b, DIRECTOR, email="director@b.example.org"))
    w.args["library"] = ({"code": a.code}, {"code": b.code})
    w.args["membership"] = (
        {"code": a.code, "membership_id": Membership.objects.get(user=w.people["colleague_a"]).pk},
        {"code": b.code, "membership_id": Membership.objects.get(user=w.people["staff_b"]).pk},
    )
    # A role offered to A's staff member, and one to B's: only the person answers theirs.
    from portal.members.models import Appointment

    offers = [
        Appointment.objects.create(user=w.people[who], library=lib, role=TRAINER)
        for who, lib in ((STAFF, a), ("staff_b", b))
    ]
    w.args["appointment"] = tuple({"pk": o.pk, "answer": "accept"} for o in offers)
    for builder in (_announcements, _governance, _policies, _training, _patron_notices):
        builder(w, a, b)
    return w


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


# --- the expectations -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    method: str
    args: str | None  # a key of World.args; None for a URL without an object
    expect: dict  # who -> outcome, or who -> (outcome for A's object, for B's object)
    hidden: str = ""  # text of library B's that A's people must not see on the page


def E(anon=LOGIN, stranger=403, staff=403, comms=403, trainer=403, director=403, office=403):
    """One row of outcomes; a pair is (library A's object, library B's object)."""
    return {
        ANON: anon,
        STRANGER: stranger,
        STAFF: staff,
        COMMUNICATIONS: comms,
        TRAINER: trainer,
        DIRECTOR: director,
        OFFICE: office,
    }


OWN = (200, 403)  # allowed for library A, refused for library B
ANYONE = E(anon=200, stranger=200, staff=200, comms=200, trainer=200, director=200, office=200)
SIGNED_IN = E(stranger=200, staff=200, comms=200, trainer=200, director=200, office=200)
READERS = E(staff=200, comms=200, trainer=200, director=200, office=200)  # every role
VOTERS = E(staff=200, director=200, office=200)  # governance: who follows the votes
NOTICES = E(comms=200, director=200, office=200)  # patron notices: take part, overview
PATRON_DATA = E(comms=OWN, director=OWN, office=(403, 403))  # the office never sees patrons
L2 = (LOGIN, LOGIN)
S2 = (403, 403)

MATRIX: dict[str, Row] = {
    # core
    "dashboard": Row("get", None, SIGNED_IN),
    "members:library_detail": Row(
        "get",
        "library",
        E(L2, S2, OWN, OWN, OWN, OWN, (200, 200)),
    ),
    "members:library_people": Row("get", "library", E(L2, S2, S2, S2, S2, OWN, (200, 200))),
    # a role offered to someone who already has an account: theirs to answer, nobody else's
    "members:appointments": Row("get", None, SIGNED_IN),
    "members:answer_appointment": Row(
        "post", "appointment", E(L2, (404, 404), (MOVED, 404), *[(404, 404)] * 4)
    ),
    "members:remove_person": Row(
        "post", "membership", E(L2, S2, S2, S2, S2, (MOVED, 403), (MOVED, MOVED))
    ),
    # announcements: a role anywhere reads; the director publishes to A, the office to all
    "announcements:list": Row("get", None, READERS, hidden="For B"),
    "announcements:archive": Row("get", "month", READERS, hidden="For B"),
    "announcements:new": Row("get", None, E(director=200, office=200)),
    "announcements:preferences": Row("get", None, READERS),
    "announcements:renew_feed": Row(
        "post", None, E(staff=MOVED, comms=MOVED, trainer=MOVED, director=MOVED, office=MOVED)
    ),
    "announcements:detail": Row(
        "get",
        "announcement",
        E(L2, (404, 404), *[(200, 404)] * 4, (200, 200)),
    ),
    "announcements:mark_read": Row(
        "post",
        "announcement",
        E(L2, (404, 404), *[(MOVED, 404)] * 4, (MOVED, MOVED)),
    ),
    # the feeds' secret token is the credential (a forged one: tests below)
    "announcements:rss": Row("get", "feed", ANYONE),
    "announcements:atom": Row("get", "feed", ANYONE),
    "announcements:calendar": Row("get", "feed", ANYONE),
    # governance: consortium-wide proposals, read by staff and directors; the office manages
    "governance:proposals": Row("get", None, VOTERS),
    "governance:register": Row("get", None, VOTERS),
    "governance:proxies": Row("get", None, E(director=200)),
    "governance:proposal": Row("get", "proposal", VOTERS),
    "governance:vote": Row("post", "vote", E(L2, S2, S2, S2, S2, OWN, S2)),
    "governance:comment": Row("post", "proposal", E(staff=MOVED, director=MOVED, office=MOVED)),
    "governance:manage": Row("post", "proposal", E(office=400)),
    "governance:results": Row("get", "final", VOTERS),
    "governance:chart": Row("get", "final", VOTERS),
    "governance:ballots": Row("get", "final", VOTERS),
    # the sealed ballots and the proof of the totals, for members to recount; the world's
    # decided proposal is an open ballot, which has no sealed record (tests/governance
    # reads a secret one's)
    "governance:ballot_record": Row("get", "final", E(staff=404, director=404, office=404)),
    "governance:minutes": Row("get", "meeting", VOTERS),
    "governance:meetings": Row("get", None, VOTERS),
    # policies: shared documents every role reads; reports and drafts for directors
    "policies:index": Row("get", None, READERS),
    "policies:mine": Row("get", None, READERS),
    "policies:manual_pdf": Row("get", None, READERS),
    "policies:report": Row("get", None, E(director=200, office=200), hidden="Library B"),
    "policies:report_pdf": Row("get", None, E(director=200, office=200)),
    "policies:reviews": Row("get", None, READERS),
    "policies:change": Row("get", "policy_change", E(director=200, office=200)),
    "policies:detail": Row("get", "policy", READERS),
    "policies:version": Row("get", "policy_version", READERS),
    "policies:version_pdf": Row("get", "policy_version", READERS),
    "policies:compare": Row("get", "policy", READERS),
    "policies:acknowledge": Row(
        "post", "policy", E(staff=MOVED, comms=MOVED, trainer=MOVED, director=MOVED)
    ),
    # passing the policy's quiz is the acknowledgement: whoever may acknowledge may answer
    "policies:acknowledge_by_quiz": Row(
        "post", "policy", E(staff=MOVED, comms=MOVED, trainer=MOVED, director=MOVED)
    ),
    "policies:mark_reviewed": Row("post", "policy", E(office=MOVED)),
    # a library's own procedure: its director writes it; the office does not
    "policies:local_procedure": Row("get", "policy_local", E(L2, S2, S2, S2, S2, OWN, S2)),
    # training: staff take courses; trainers and directors report on their library
    "training:transcript": Row("get", None, SIGNED_IN),
    "training:enrol": Row(
        "post", "course", E(staff=MOVED, comms=MOVED, trainer=MOVED, director=MOVED)
    ),
    "training:quiz": Row("get", "course", E(staff=200)),  # only once enrolled
    "training:lesson_done": Row("post", "lesson", E(staff=MOVED)),
    "training:assign": Row("get", "course", E(trainer=200, director=200, office=200)),
    "training:export": Row("get", "course", E(trainer=200, office=200)),
    # a colleague's certificate at A, a stranger's at B
    "training:certificate_pdf": Row(
        "get",
        "certificate",
        E(L2, (404, 404), (404, 404), (404, 404), *[(200, 404)] * 2, (200, 200)),
    ),
    "training:badge": Row(
        "get",
        "certificate",
        E(L2, (404, 404), (404, 404), (404, 404), *[(200, 404)] * 2, (200, 200)),
    ),
    "training:revoke": Row(
        "post", "certificate", E(L2, S2, S2, S2, (MOVED, 403), S2, (MOVED, MOVED))
    ),
    "training:verify_form": Row("get", None, ANYONE),
    "training:verify": Row("get", "certificate", ANYONE),
    "training:issuer": Row("get", None, ANYONE),
    "training:reports": Row("get", None, E(trainer=200, director=200, office=200)),
    "training:office_report": Row("get", None, E(office=200)),
    "training:library_report": Row("get", "library", E(L2, S2, S2, S2, OWN, OWN, (200, 200))),
    "training:compliance": Row("get", "library", E(L2, S2, S2, S2, OWN, OWN, (200, 200))),
    # patron notices: patrons' data stays with their library
    "patron_notices:overview": Row("get", None, NOTICES),
    "patron_notices:patrons": Row("get", "library", E(L2, S2, S2, OWN, S2, OWN, S2)),
    "patron_notices:import_upload": Row("get", "library", E(L2, S2, S2, OWN, S2, OWN, S2)),
    "patron_notices:import_mapping": Row(
        "get", "import", E(L2, S2, S2, (MOVED, 403), S2, (MOVED, 403), S2)
    ),
    "patron_notices:import_progress": Row("get", "import", E(L2, S2, S2, OWN, S2, OWN, S2)),
    "patron_notices:import_status": Row("get", "import", E(L2, S2, S2, OWN, S2, OWN, S2)),
    "patron_notices:import_problems": Row("get", "import", E(L2, S2, S2, OWN, S2, OWN, S2)),
    # patrons have no account: the signed link is the credential (a forged one: below)
    "patron_notices:preferences": Row("get", "preference_token", ANYONE),
    "patron_notices:unsubscribe": Row("get", "unsubscribe_token", ANYONE),
    # the public web copy of a sent notice, for the libraries it was sent for
    "patron_notices:archive": Row("get", "archive", E(*[(200, 404)] * 7)),
    "patron_notices:notices": Row("get", None, NOTICES),
    # the notice was sent to A's patrons only: B has nothing to take part in (404)
    "patron_notices:participate": Row(
        "get", "notice_library", E(L2, S2, S2, OWN, S2, OWN, (200, 404))
    ),
    # the branded message a library decides on: only for a library in the audience
    "patron_notices:participation_message": Row(
        "get", "outside_audience", E(L2, S2, S2, (404, 403), S2, (404, 403), (404, 200))
    ),
    "patron_notices:delivery_report": Row(
        "get", "notice_library", E(L2, S2, S2, OWN, S2, OWN, (200, 200))
    ),
    # printed letters carry names and addresses: the library's own people and the office
    "patron_notices:print_run": Row("get", "print_run", E(L2, S2, S2, OWN, S2, OWN, (200, 200))),
}

# The same URLs asked about other objects: a notice not addressed to library A.
VARIANTS: dict[str, tuple[str, Row]] = {
    # GET shows no preview and POST records nothing for a library outside the audience.
    "patron_notices:participate@outside": (
        "patron_notices:participate",
        Row("post", "outside_audience", E(L2, S2, S2, (404, 403), S2, (404, 403), (404, MOVED))),
    ),
    "patron_notices:participate@outside-get": (
        "patron_notices:participate",
        Row("get", "outside_audience", E(L2, S2, S2, (404, 403), S2, (404, 403), (404, 200))),
    ),
}

# The notice admin (Wagtail): its screens and progress endpoint. ADMIN_LOGIN: sent to sign
# in; DENIED: Wagtail's refusal (a redirect to its dashboard with a message, or a 403).
ADMIN_LOGIN = "admin login"
DENIED = "denied"
# Staff and trainers hold no role that opens the admin: Wagtail sends them to sign in.
NO_ADMIN = E(*[ADMIN_LOGIN] * 7)


def A(comms, office, director=DENIED):
    """An admin row: communications, the director (a patron directory keeper) and the office
    reach the admin; the notices in it are for those who draft and the office."""
    row = dict(NO_ADMIN)
    row.update({COMMUNICATIONS: comms, DIRECTOR: director, OFFICE: office})
    return row


OWN_DRAFT = (200, DENIED)  # A's draft yes, B's draft no
ADMIN_MATRIX: dict[str, tuple[str, Row]] = {
    "list": ("notices:list", Row("get", None, A(200, 200), hidden="Draft of Library B")),
    "manage draft": ("notices:manage", Row("get", "draft", A(OWN_DRAFT, (200, 200)))),
    "manage sent": (
        "notices:manage",
        Row("get", "sent_notice", A(200, 200), hidden="B-PARAGRAPH"),
    ),
    "progress draft": ("notices:progress_json", Row("get", "draft", A(OWN_DRAFT, (200, 200)))),
    "progress sent": (
        "notices:progress_json",
        Row("get", "sent_notice", A(200, 200), hidden="Library B"),
    ),
    "preview": ("notices:preview", Row("get", "draft", A(OWN_DRAFT, (200, 200)))),
    "test send": ("notices:test_send", Row("get", "draft", A(OWN_DRAFT, (200, 200)))),
    "edit": ("notices:edit", Row("get", "draft", A(OWN_DRAFT, (200, 200)))),
    "delete": ("notices:delete", Row("get", "draft", A(OWN_DRAFT, (200, 200)))),
    "history": ("notices:history", Row("get", "draft", A(OWN_DRAFT, (200, 200)))),
    "usage": ("notices:usage", Row("get", "draft", A(OWN_DRAFT, (200, 200)))),
    "workflow history": (
        "notices:workflow_history",
        Row("get", "draft", A(OWN_DRAFT, (200, 200))),
    ),
    # Sending controls are the office's alone (a draft cannot be cancelled: sent back).
    "cancel": ("notices:act", Row("post", "cancel", A(DENIED, MOVED))),
}

# URLs served by libraries the plugins mount: the mail providers' webhooks authenticate
# by the provider's shared secret, never by a portal role.
WEBHOOK = re.compile(r"(^|:)anymail:")


def outcome(response) -> str | int:
    if response.status_code == 302:
        return LOGIN if "/accounts/login/" in response["Location"] else MOVED
    return response.status_code


# --- the walk ----------------------------------------------------------------------------

FRAMEWORK = ("wagtail", "allauth", "django", "laces", "portal.health")
SAMPLE = {"int": "999999", "slug": "no-such-library", "str": "no-such-thing", "path": "x"}


def mounted():
    """(name, route) of every URL the portal serves outside the admin, the accounts pages,
    the probes and the integration API (tested in tests/ops and tests/accounts)."""

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}:{p.namespace}" if namespace and p.namespace else None
                yield from walk(
                    p.url_patterns, prefix + str(p.pattern), ns or p.namespace or namespace
                )
            elif isinstance(p, URLPattern):
                if p.callback.__module__.startswith(FRAMEWORK):
                    continue
                if p.callback is home_views.serve:
                    continue  # Wagtail's own serve, routed from a hint: World.tree_pages
                if prefix.startswith(("admin/", "api/")):
                    continue
                name = f"{namespace}:{p.name}" if namespace else p.name
                name = name or str(p.pattern)  # an unnamed URL is known by its route
                yield name, prefix + str(p.pattern)

    return sorted(set(walk(get_resolver().url_patterns)))


def sample_url(route: str) -> str:
    url = "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), route)
    return url.replace("^", "").replace("$", "")


MOUNTED = mounted()
NAMES = [name for name, _route in MOUNTED if not WEBHOOK.search(name)]


# --- the tests ---------------------------------------------------------------------------


def test_every_mounted_url_has_an_expectation():
    """A new URL must come with its row: who may use it, for whose library."""
    assert MOUNTED, "the resolver walk found nothing"
    missing = sorted(set(NAMES) - set(MATRIX))
    assert not missing, f"URLs without a row in MATRIX: {missing}"
    gone = sorted(set(MATRIX) - set(NAMES))
    assert not gone, f"rows for URLs that are no longer mounted: {gone}"
    for name, row in MATRIX.items():
        assert set(row.expect) == set(WHO), name


def _clients(world):
    clients = {ANON: Client()}
    for who in WHO[1:]:
        clients[who] = Client()
        clients[who].force_login(world.people[who])
    return clients


@pytest.fixture(scope="module")
def clients(world):
    return _clients(world)


def _sides(world, name, row):
    """[(kwargs, data, index)] for A's object and, when it differs, B's."""
    if row.args is None:
        return [({}, world.data.get(name, ({},))[0], 0)]
    kwargs = world.args[row.args]
    data = world.data.get(name, ({}, {}))
    sides = [(kwargs[0], data[0], 0)]
    if kwargs[1] != kwargs[0] or data[1] != data[0]:
        sides.append((kwargs[1], data[1], 1))
    return sides


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_permission_matrix(world, clients, name):
    row = MATRIX[name]
    problems = []
    for who in WHO:
        expected = row.expect[who]
        for kwargs, data, side in _sides(world, name, row):
            want = expected[side] if isinstance(expected, tuple) else expected
            url = reverse(name, kwargs=kwargs)
            # Each request in a savepoint of its own: one person's write is not the next's.
            with transaction.atomic():
                response = getattr(clients[who], row.method)(url, data)
                transaction.set_rollback(True)
            got = outcome(response)
            if got != want:
                side_name = "own" if side == 0 else "other"
                problems.append(f"{who} {row.method.upper()} {url} ({side_name}): {got} != {want}")
            elif (
                got == 200
                and row.hidden
                and who != OFFICE
                and row.hidden in response.content.decode(errors="replace")
            ):
                problems.append(f"{who} {url} shows library B's {row.hidden!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(VARIANTS))
def test_permission_matrix_variants(world, clients, label):
    name, row = VARIANTS[label]
    _check(world, clients, label, name, row, outcome)


def admin_outcome(response) -> str | int:
    if response.status_code == 302:
        location = response["Location"]
        if "/admin/login/" in location or "/accounts/login/" in location:
            return ADMIN_LOGIN
        if location == "/admin/":
            return DENIED
        return MOVED
    if response.status_code == 403:
        return DENIED
    return response.status_code


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(ADMIN_MATRIX))
def test_notice_admin_matrix(world, clients, label):
    """The notice admin by role × own library / another library."""
    name, row = ADMIN_MATRIX[label]
    _check(world, clients, label, name, row, admin_outcome)


def _check(world, clients, label, name, row, judge):
    problems = []
    for who in WHO:
        expected = row.expect[who]
        for kwargs, data, side in _sides(world, label, row):
            want = expected[side] if isinstance(expected, tuple) else expected
            url = reverse(name, kwargs=kwargs)
            with transaction.atomic():
                response = getattr(clients[who], row.method)(url, data)
                transaction.set_rollback(True)
            got = judge(response)
            if got != want:
                side_name = "own" if side == 0 else "other"
                problems.append(f"{who} {row.method.upper()} {url} ({side_name}): {got} != {want}")
            elif (
                got == 200
                and row.hidden
                and who != OFFICE
                and row.hidden in response.content.decode(errors="replace")
            ):
                problems.append(f"{who} {url} shows library B's {row.hidden!r}")
    assert not problems, "\n".join(problems)


TOKENS = ("feed", "certificate", "preference_token", "unsubscribe_token")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", [n for n, r in MATRIX.items() if r.expect[ANON] == 200 and r.args in TOKENS]
)
def test_a_forged_link_opens_nothing(world, clients, name):
    """The public pages that a secret link opens refuse a link that was not issued."""
    row = MATRIX[name]
    kwargs = dict(world.args[row.args][0])
    key = next(k for k in kwargs if k in ("token", "code"))
    kwargs[key] = kwargs[key][:-4] + ("AAAA" if not kwargs[key].endswith("AAAA") else "BBBB")
    response = clients[ANON].get(reverse(name, kwargs=kwargs))
    assert response.status_code in (403, 404), name


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), MOUNTED)
def test_strangers_get_nothing_from_any_url(world, clients, name, route):
    """With objects that do not exist, nobody without a role gets a page or a server error."""
    url = sample_url(route)
    public = name in MATRIX and MATRIX[name].expect[ANON] == 200
    personal = name in MATRIX and MATRIX[name].expect[STRANGER] == 200
    for who in (ANON, STRANGER):
        for method in ("get", "post"):
            with transaction.atomic():
                response = getattr(clients[who], method)(url)
                transaction.set_rollback(True)
            assert response.status_code < 500, f"{who} {method.upper()} {url}"
            if public or (personal and who == STRANGER):
                continue
            assert response.status_code in (302, 400, 401, 403, 404, 405), (
                f"{who} {method.upper()} {url}: {response.status_code}"
            )
            if response.status_code == 302:
                assert "/accounts/login/" in response["Location"], f"{who} {url}"


# --- the decision matrix, generated from the role definitions ---------------------------
#
# Whatever the office has made of the roles, each grants exactly its permissions on the
# library where it is held and every library below, nothing above or beside; the office
# holds its role's permissions everywhere.

SIDES = ("own", "below", "above", "other")


def _decision_world():
    from portal.members.models import MemberLibrary

    root = factories.consortium("Matrix Consortium", code="matrix-root")
    own = factories.library(root, kind=MemberLibrary.Kind.SYSTEM)
    return {
        "own": own,
        "below": factories.library(own, kind=MemberLibrary.Kind.BRANCH),
        "above": root,
        "other": factories.library(root, kind=MemberLibrary.Kind.SYSTEM),
    }


def _decision_problems(libraries, holders: dict) -> list[str]:
    """Every (role, permission, side) where ``access`` disagrees with the role's definition.
    ``holders`` keeps one person per role across calls (added when a role is new)."""
    from portal import access
    from portal.members.roles import all_permissions, definitions

    problems = []
    for code, role in definitions().items():
        if role.retired:
            continue
        if code not in holders:
            held_at = libraries["above"] if code == CONSORTIUM_ADMIN else libraries["own"]
            holders[code] = factories.member(held_at, code)
        person = type(holders[code]).objects.get(pk=holders[code].pk)  # nothing cached
        for perm in all_permissions():
            for side in SIDES:
                want = perm in role.permissions and (
                    code == CONSORTIUM_ADMIN or side in ("own", "below")
                )
                if access.can(person, perm, libraries[side]) != want:
                    problems.append(
                        f"{role.name} ({code}) {perm} on the {side} library: not {want}"
                    )
            reached = set(access.libraries_for(person, perm)) & set(libraries.values())
            want_reached = {
                libraries[side]
                for side in SIDES
                if perm in role.permissions
                and (code == CONSORTIUM_ADMIN or side in ("own", "below"))
            }
            if reached != want_reached:
                problems.append(f"{role.name} ({code}) {perm}: libraries_for disagrees")
    return problems


@pytest.fixture
def role_definitions_restored():
    from portal.members.roles import forget_definitions

    forget_definitions()
    yield
    forget_definitions()  # the edits were rolled back with the test


@pytest.mark.django_db
def test_every_role_grants_its_permissions_on_its_library_and_below_only(
    role_definitions_restored,
):
    assert not _decision_problems(_decision_world(), {})


@pytest.mark.django_db
def test_every_role_follows_when_the_office_edits_one(role_definitions_restored):
    from portal import access
    from portal.members.models import Role
    from portal.members.role_services import RoleShape, do_create_role, do_edit_role

    libraries, holders = _decision_world(), {}
    assert not _decision_problems(libraries, holders)
    office = holders[OFFICE]
    staff = Role.objects.get(code=STAFF)
    shape = RoleShape.of(staff)
    shape.permissions = (shape.permissions - {"policies.view_policies"}) | {
        "governance.cast_ballot"
    }
    do_edit_role(office, staff, shape)
    do_create_role(
        office,
        "ils_coordinator",
        RoleShape(
            name="ILS coordinator",
            permissions={"portal.view_library", "patron_notices.view_patrons"},
        ),
    )

    # The people who already held staff follow the edit; the new role is in the matrix.
    assert not _decision_problems(libraries, holders)
    assert "ils_coordinator" in holders
    staff_member = type(office).objects.get(pk=holders[STAFF].pk)
    assert access.can(staff_member, "governance.cast_ballot", libraries["below"])
    assert not access.can(staff_member, "policies.view_policies", libraries["own"])


@pytest.mark.django_db
def test_pages_wagtail_serves_open_to_their_readers_only(world, clients):
    """The announcement, policy, course and lesson pages, at their place in the page tree:
    their reader gets the page; nobody signed out or without a role does, also once the
    address is routed from the hint a reader's visit kept (portal.home.routing)."""
    assert world.tree_pages
    for who, url in world.tree_pages:
        for _visit in range(2):
            # An announcement's tree address sends its reader on to the portal's own.
            assert clients[who].get(url, follow=True).status_code == 200, url
            signed_out = clients[ANON].get(url)
            assert signed_out.status_code == 302, url
            assert "/accounts/login/" in signed_out["Location"], url
            stranger = clients[STRANGER].get(url, follow=True)
            assert stranger.status_code in (403, 404), f"{url}: {stranger.status_code}"
