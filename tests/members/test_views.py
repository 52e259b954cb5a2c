import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.audit.models import AuditEntry
from portal.members.models import LibraryPluginSwitch, MemberLibrary, Membership
from portal.members.roles import DIRECTOR, STAFF
from portal.plugins import available_plugins
from tests import factories

from .conftest import login_ready

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def as_admin(client, people):
    client.force_login(login_ready(people["admin"]))
    return client


@pytest.fixture
def as_director(client, people):
    client.force_login(login_ready(people["director"]))
    return client


@pytest.fixture
def as_staff(client, people):
    client.force_login(login_ready(people["staff"]))
    return client


def people_url(library):
    return reverse("members:library_people", args=[library.code])


# --- the directors' people page ----------------------------------------------------------


def test_director_sees_own_people(as_director, people):
    response = as_director.get(people_url(people["branch_a"]))
    assert response.status_code == 200
    assert b"staff@example.org" in response.content
    # Directors may appoint directors, staff, communications and trainers, not admins.
    roles = [value for value, _label in response.context["form"].fields["role"].choices]
    assert roles == ["director", "staff", "communications", "trainer"]


@pytest.mark.parametrize("where", ["system_b", "branch_b", "root"])
def test_director_of_another_library_is_refused(as_director, people, where):
    assert as_director.get(people_url(people[where])).status_code == 403
    response = as_director.post(
        people_url(people[where]), {"email": "x@example.org", "role": STAFF}
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="x@example.org").exists()


def test_staff_is_refused(as_staff, people):
    assert as_staff.get(people_url(people["branch_a"])).status_code == 403


def test_anonymous_is_sent_to_login(client, people):
    response = client.get(people_url(people["branch_a"]))
    assert response.status_code == 302
    assert reverse("account_login") in response.url


def test_director_invites_through_the_page(as_director, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_director.post(
            people_url(people["branch_a"]),
            {"email": "new@example.org", "full_name": "New Person", "role": STAFF},
        )
    assert response.status_code == 302
    assert Membership.objects.filter(
        user__email="new@example.org", library=people["branch_a"], role=STAFF
    ).exists()
    assert [m.to for m in mail.outbox] == [["new@example.org"]]
    assert AuditEntry.objects.filter(action="membership.added", actor=people["director"]).exists()


def test_director_cannot_appoint_an_admin_through_the_page(as_director, people):
    response = as_director.post(
        people_url(people["branch_a"]),
        {"email": "new@example.org", "role": "consortium_admin"},
    )
    assert response.status_code == 400
    assert "role" in response.context["form"].errors
    assert not User.objects.filter(email="new@example.org").exists()


def test_director_removes_through_the_page(as_director, people):
    membership = Membership.objects.get(user=people["staff"])
    url = reverse("members:remove_person", args=[people["branch_a"].code, membership.pk])
    assert as_director.get(url).status_code == 405
    response = as_director.post(url)
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_removal_elsewhere_is_refused(as_director, people):
    other = factories.member(people["branch_b"], STAFF, "other@example.org")
    membership = Membership.objects.get(user=other)
    url = reverse("members:remove_person", args=[people["branch_b"].code, membership.pk])
    assert as_director.post(url).status_code == 403
    # Nor through a library they do manage, naming a membership of another library.
    url = reverse("members:remove_person", args=[people["branch_a"].code, membership.pk])
    assert as_director.post(url).status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()


# --- the office's admin ------------------------------------------------------------------


def test_admin_sees_tree_in_order(as_admin, people):
    response = as_admin.get(reverse("member_libraries:index"))
    assert response.status_code == 200
    names = [lib.name for lib in response.context["object_list"]]
    assert names == [lib.name for lib in MemberLibrary.objects.order_by("path")]
    assert "Member libraries" in response.content.decode()


def test_non_admins_cannot_use_the_offices_admin_screens(client, people):
    # Directors enter the admin (they keep their library's patron directory there) and may
    # import people for their own library, the rows checked one by one
    # (test_rows_beyond_the_importers_reach_are_refused); the office's screens stay shut.
    office_only = (reverse("member_libraries:index"), reverse("memberships:index"))
    for user, urls in (
        (people["director"], office_only),
        (people["staff"], (*office_only, reverse("import_people:index"))),
    ):
        client.force_login(login_ready(user))
        for url in urls:
            response = client.get(url)
            # Wagtail sends people without admin access to its login, which forwards to ours.
            assert response.status_code in (302, 403), url
            if response.status_code == 302:
                assert "/admin/" in response.url or "/accounts/" in response.url


def test_admin_creates_library_under_a_parent(as_admin, people, django_capture_on_commit_callbacks):
    parent = people["system_b"]
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(
            reverse("member_libraries:add"),
            {
                "parent": parent.pk,
                "name": "Zeta Branch",
                "code": "zeta",
                "kind": "branch",
                "library_type": "public",
                "vote_weight": "1.5",
                "primary_colour": "#112233",
                "secondary_colour": "#445566",
            },
        )
    assert response.status_code == 302, response.context["form"].errors
    zeta = MemberLibrary.objects.get(code="zeta")
    assert zeta.get_parent() == parent
    assert str(zeta.vote_weight) == "1.500"
    assert AuditEntry.objects.filter(action="library.created", library=zeta).exists()


def test_admin_edits_library(as_admin, people, django_capture_on_commit_callbacks):
    library = people["branch_a"]
    url = reverse("member_libraries:edit", args=[library.pk])
    assert as_admin.get(url).status_code == 200
    data = {
        "name": library.name,
        "code": library.code,
        "kind": library.kind,
        "library_type": "academic",
        "vote_weight": "2",
        "primary_colour": "#000000",
        "secondary_colour": "#ffffff",
        "reply_to": "desk@example.org",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    library.refresh_from_db()
    assert library.library_type == "academic" and library.reply_to == "desk@example.org"
    entry = AuditEntry.objects.get(action="library.updated")
    assert entry.data["library_type"] == "academic"


def test_admin_switches_modules(as_admin, people, django_capture_on_commit_callbacks):
    plugin = available_plugins()[0]
    url = reverse("member_libraries:modules", args=[people["system_a"].pk])
    response = as_admin.get(url)
    assert response.status_code == 200
    assert str(plugin.meta.name) in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(url, {"plugin": plugin.label, "enabled": "0"})
    assert response.status_code == 302
    assert not LibraryPluginSwitch.objects.get(plugin=plugin.label).enabled
    assert AuditEntry.objects.filter(action="plugin.switched").exists()


def test_modules_view_refuses_others(client, people):
    client.force_login(login_ready(people["staff"]))
    url = reverse("member_libraries:modules", args=[people["branch_a"].pk])
    assert client.get(url).status_code in (302, 403)
    assert not LibraryPluginSwitch.objects.exists()


def test_admin_people_index_filters(as_admin, people):
    url = reverse("memberships:index")
    response = as_admin.get(url, {"role": DIRECTOR})
    assert response.status_code == 200
    assert [m.user for m in response.context["object_list"]] == [people["director"]]
    response = as_admin.get(url, {"library": people["branch_a"].pk})
    assert [m.user for m in response.context["object_list"]] == [people["staff"]]


def test_admin_appoints_and_removes(as_admin, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(
            reverse("memberships:add"),
            {
                "email": "new@example.org",
                "full_name": "New",
                "library": people["system_b"].pk,
                "role": DIRECTOR,
            },
        )
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="new@example.org")
    assert len(mail.outbox) == 1
    response = as_admin.post(reverse("memberships:delete", args=[membership.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_admin_form_refuses_admin_role_below_consortium(as_admin, people):
    response = as_admin.post(
        reverse("memberships:add"),
        {"email": "new@example.org", "library": people["system_b"].pk, "role": "consortium_admin"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not User.objects.filter(email="new@example.org").exists()


def test_admin_import_view_reports_bad_rows(as_admin, people):
    upload = SimpleUploadedFile(
        "people.csv",
        b"email,name,library,role\nnope,N,nowhere,staff\n",
        content_type="text/csv",
    )
    response = as_admin.post(reverse("import_people:index"), {"file": upload})
    assert response.status_code == 200
    content = response.content.decode()
    assert "line 2, column email:" in content
    assert "line 2, column library:" in content
    assert not User.objects.filter(email="nope").exists()


def test_admin_import_view_imports(as_admin, people, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile(
        "people.csv",
        f"email,name,library,role\nnew@example.org,N,{people['branch_b'].code},staff\n".encode(),
        content_type="text/csv",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(reverse("import_people:index"), {"file": upload})
    assert response.status_code == 200
    assert response.context["report"].ok
    assert Membership.objects.filter(user__email="new@example.org").exists()
    assert len(mail.outbox) == 1


def test_admin_menu_shows_group_only_to_the_office(client, people):
    client.force_login(login_ready(people["admin"]))
    response = client.get(reverse("wagtailadmin_home"))
    assert response.status_code == 200
    assert "Import people" in response.content.decode()
