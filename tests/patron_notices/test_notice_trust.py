"""Each library sees its own side of a notice: decisions, print runs and progress; drafts
belong to their author's libraries and the office; a library outside a notice's audience
has nothing to take part in."""

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction

from plugins.patron_notices.models import Delivery, LibraryParticipation, Notice, PrintRun
from plugins.patron_notices.notices import selectors
from plugins.patron_notices.notices import services as notices
from portal.members.roles import COMMUNICATIONS, CONSORTIUM_ADMIN
from tests import factories

from .engine_support import notice, patron

pytestmark = pytest.mark.django_db


def admin_access(user):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    return user


def refused(response) -> bool:
    return response.status_code in (403, 404) or (
        response.status_code == 302 and response["Location"] == "/admin/"
    )


@pytest.fixture
def office(libs):
    from allauth.mfa.models import Authenticator

    user = factories.member(libs["root"], CONSORTIUM_ADMIN, email="office@example.org")
    Authenticator.objects.create(user=user, type="totp", data={"secret": "x"})
    return user


@pytest.fixture
def decided(libs, people, office):
    """A notice both systems took part in, with print runs and deliveries on both sides."""
    from django.core.files.base import ContentFile

    n = notice(author=office, state=Notice.State.SENDING, planned_count=2)
    for lib, who, paragraph in (
        ("north", people["comms"], "North opens at nine."),
        ("south", people["south_comms"], "SOUTH-SECRET paragraph."),
    ):
        LibraryParticipation.objects.create(
            notice=n, library=libs[lib], decision="approved", local_paragraph=paragraph,
            decided_by=who,
        )  # fmt: skip
        PrintRun.objects.create(
            notice=n, library=libs[lib], state="done", letters=1,
            file=ContentFile(b"%PDF-1.4\n", name=f"{lib}.pdf"),
        )  # fmt: skip
        p = patron(libs[lib], f"C-{lib}", f"{lib}@example.net")
        Delivery.objects.create(
            notice=n, contact=p.contact, patron=p, library=libs[lib], language="en", state="sent"
        )
    return n


# -- defect 1: other libraries' decisions ----------------------------------------------------


def test_communications_see_their_own_librarys_decision_and_runs_only(
    client, libs, people, decided
):
    client.force_login(admin_access(people["comms"]))
    page = client.get(f"/admin/notices/{decided.pk}/manage/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "North opens at nine." in text
    assert "SOUTH-SECRET" not in text and "sc@example.org" not in text
    assert "South System" not in text  # neither its decision nor its print run
    data = client.get(f"/admin/notices/{decided.pk}/progress.json").json()
    assert [row["name"] for row in data["libraries"]] == ["North System"]


def test_the_office_sees_every_librarys_side(client, libs, office, decided):
    client.force_login(office)
    text = client.get(f"/admin/notices/{decided.pk}/manage/").content.decode()
    assert "North opens at nine." in text and "SOUTH-SECRET" in text
    data = client.get(f"/admin/notices/{decided.pk}/progress.json").json()
    assert {row["name"] for row in data["libraries"]} == {"North System", "South System"}


def test_preview_and_test_send_only_as_ones_own_libraries(client, libs, people, decided):
    client.force_login(admin_access(people["comms"]))
    as_south = {"library": libs["south"].pk, "language": "en", "first_name": "A"}
    assert client.get(f"/admin/notices/{decided.pk}/preview/message/", as_south).status_code == 400
    page = client.get(f"/admin/notices/{decided.pk}/preview/", as_south).content.decode()
    assert "SOUTH-SECRET" not in page
    with pytest.raises(PermissionDenied):
        notices.check_test_send(people["comms"], decided, libs["south"], ["a@example.org"])


# -- defect 3: drafts belong to their author's libraries and the office ------------------------


def test_a_draft_of_another_library_cannot_be_opened_edited_or_deleted(client, libs, people):
    theirs = notice(author=people["south_comms"], title="South's draft")
    client.force_login(admin_access(people["comms"]))
    assert not notices.may_edit(people["comms"], theirs)
    assert refused(client.get(f"/admin/notices/edit/{theirs.pk}/"))
    client.post(f"/admin/notices/delete/{theirs.pk}/")
    assert Notice.objects.filter(pk=theirs.pk).exists()
    assert refused(client.get(f"/admin/notices/{theirs.pk}/manage/"))
    assert refused(client.get(f"/admin/notices/{theirs.pk}/progress.json"))
    assert refused(client.get(f"/admin/notices/{theirs.pk}/preview/"))
    assert "South&#x27;s draft" not in client.get("/admin/notices/").content.decode()
    assert Notice.objects.filter(pk=theirs.pk).exists()


def test_a_draft_is_edited_by_its_librarys_people_and_the_office(client, libs, people, office):
    colleague = factories.member(libs["north"], COMMUNICATIONS, email="c2@example.org")
    branch_comms = factories.member(libs["main"], COMMUNICATIONS, email="bc@example.org")
    draft = notice(author=colleague)
    assert notices.may_edit(people["comms"], draft)  # same library
    assert notices.may_edit(office, draft)
    # A branch's draft is its system's too; the system's is not the branch's.
    assert notices.may_edit(people["comms"], notice(author=branch_comms))
    assert not notices.may_edit(branch_comms, draft)
    assert not notices.may_edit(people["south_comms"], draft)
    # The office's own drafts are the office's.
    assert not notices.may_edit(people["comms"], notice(author=office))
    client.force_login(admin_access(people["comms"]))
    assert client.get(f"/admin/notices/edit/{draft.pk}/").status_code == 200


# -- defect 2: libraries outside the audience ----------------------------------------------------


def test_a_library_outside_the_audience_has_nothing_to_take_part_in(client, libs, people):
    n = notice(title="For the south", state=Notice.State.APPROVED)
    n.libraries.set([libs["south"]])
    client.force_login(people["comms"])
    url = f"/patron-notices/notices/{n.pk}/libraries/{libs['north'].code}/"
    assert client.get(url).status_code == 404
    response = client.post(url, {"decision": "approved", "local_paragraph": "Hello"})
    assert response.status_code == 404
    assert not LibraryParticipation.objects.filter(notice=n).exists()
    with pytest.raises(notices.NotInAudience), transaction.atomic():
        notices.check_participate(people["comms"], n, libs["north"])
    # Inside the audience it still works, for the library and (through it) its branches.
    client.force_login(people["south_comms"])
    own = f"/patron-notices/notices/{n.pk}/libraries/{libs['south'].code}/"
    assert client.post(own, {"decision": "approved"}).status_code == 302
    assert selectors.reaches(n, libs["south"]) and not selectors.reaches(n, libs["main"])


def test_a_decision_whose_decider_is_gone_still_shows(client, libs, people, office, decided):
    type(people["south_comms"]).objects.filter(pk=people["south_comms"].pk).delete()
    client.force_login(office)
    page = client.get(f"/admin/notices/{decided.pk}/manage/")
    assert page.status_code == 200 and "SOUTH-SECRET" in page.content.decode()
