import io

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from portal.audit.models import AuditEntry
from portal.members.imports import import_people
from portal.members.models import Membership

pytestmark = pytest.mark.django_db
User = get_user_model()


def csv_file(text: str, bom: bool = False) -> io.BytesIO:
    data = text.encode("utf-8")
    return io.BytesIO(b"\xef\xbb\xbf" + data if bom else data)


def test_three_bad_rows_are_all_reported_and_nothing_is_written(
    people, django_capture_on_commit_callbacks
):
    a, b = people["branch_a"].code, people["system_a"].code
    text = (
        "email,name,library,role\n"
        f"good@example.org,Good Person,{a},staff\n"
        f"not-an-address,Bad Email,{a},staff\n"
        "fine@example.org,Unknown Library,nowhere,staff\n"
        f"other@example.org,Good Too,{b},trainer\n"
        f"good@example.org,Repeated,{a},staff\n"
    )
    users_before = User.objects.count()
    memberships_before = Membership.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        report = import_people(people["director"], csv_file(text))
    assert not report.ok
    assert [(e.line, e.column) for e in report.errors] == [
        (3, "email"),
        (4, "library"),
        (6, "email"),
    ]
    assert "not a valid email" in report.errors[0].message
    assert "nowhere" in report.errors[1].message
    assert "Repeats line 2" in report.errors[2].message
    assert str(report.errors[1]).startswith("line 4, column library: ")
    assert User.objects.count() == users_before
    assert Membership.objects.count() == memberships_before
    assert report.people_created == report.memberships_added == 0
    assert mail.outbox == []
    assert not AuditEntry.objects.exists()


def test_rows_beyond_the_importers_reach_are_refused(people):
    text = (
        "Email,Name,Library code,Role\n"
        f"x@example.org,X,{people['system_b'].code},staff\n"
        f"y@example.org,Y,{people['branch_a'].code},consortium_admin\n"
        f"z@example.org,Z,{people['branch_a'].code},wizard\n"
    )
    report = import_people(people["director"], csv_file(text))
    assert [(e.line, e.column) for e in report.errors] == [(2, "role"), (3, "role"), (4, "role")]
    assert "may not manage the people" in report.errors[0].message
    assert not User.objects.filter(email__in=["x@example.org", "y@example.org"]).exists()


def test_good_file_creates_people_and_sends_invitations(people, django_capture_on_commit_callbacks):
    a, b = people["branch_a"].code, people["system_a"].code
    text = (
        "email,name,library,role\n"
        f"ann@example.org,Ann Archivist,{a},staff\n"
        f"ann@example.org,Ann Archivist,{b},trainer\n"
        "\n"
        f"bob@example.org,Bob Binder,{b},Director\n"
        f"staff@example.org,Known Already,{a},staff\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = import_people(people["director"], csv_file(text))
    assert report.ok, report.errors
    assert report.rows == 4
    assert report.people_created == 2
    assert report.memberships_added == 3
    assert report.already_held == 1
    ann = User.objects.get(email="ann@example.org")
    assert ann.full_name == "Ann Archivist"
    assert set(Membership.objects.filter(user=ann).values_list("role", flat=True)) == {
        "staff",
        "trainer",
    }
    assert Membership.objects.get(user__email="bob@example.org").role == "director"
    # One invitation per new person and role taken; known people get none.
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ann@example.org",
        "ann@example.org",
        "bob@example.org",
    ]
    assert AuditEntry.objects.filter(action="people.imported").count() == 1


def test_bom_prefixed_file_works(people, django_capture_on_commit_callbacks):
    text = f"email,name,library,role\nbom@example.org,Bo M,{people['branch_a'].code},staff\n"
    with django_capture_on_commit_callbacks(execute=True):
        report = import_people(people["admin"], csv_file(text, bom=True))
    assert report.ok, report.errors
    assert User.objects.filter(email="bom@example.org").exists()
    assert len(mail.outbox) == 1


def test_header_is_required(people):
    text = f"bom@example.org,Bo M,{people['branch_a'].code},staff\n"
    report = import_people(people["admin"], csv_file(text))
    assert not report.ok
    assert report.errors[0].line == 1
    assert not User.objects.filter(email="bom@example.org").exists()


def test_non_utf8_file_is_reported(people):
    data = f"email,name,library,role\nx@example.org,Zoë,{people['branch_a'].code},staff\n"
    report = import_people(people["admin"], io.BytesIO(data.encode("latin-1")))
    assert not report.ok
    assert "UTF-8" in report.errors[0].message
    assert not User.objects.filter(email="x@example.org").exists()
