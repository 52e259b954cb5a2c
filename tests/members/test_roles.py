"""Roles the office defines: shaping one changes what its holders may do, audited; the
rules of appointing and retiring refuse with a message that says why."""

import io

import pytest
from django.contrib.auth.models import Permission

from portal import access
from portal.audit.models import AuditEntry
from portal.members import grants, role_services
from portal.members.exceptions import ActionRefused
from portal.members.imports import import_people
from portal.members.models import MemberLibrary, MemberLibraryUserObjectPermission, Membership, Role
from portal.members.role_services import RoleShape, do_create_role, do_edit_role
from portal.members.roles import (
    CONSORTIUM_ADMIN,
    DIRECTOR,
    ROLES,
    STAFF,
    all_permissions,
    definitions,
    forget_definitions,
    permissions_of_role,
    role_name,
)
from portal.members.services import (
    appointable_roles,
    check_add_membership,
    do_add_membership,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_role_definitions():
    # Role edits are rolled back with the test; the process's copy must not outlive them.
    forget_definitions()
    yield
    forget_definitions()


def fresh(user):
    user = type(user).objects.get(pk=user.pk)
    access.forget(user)
    return user


def reshaped(code: str, **changes) -> RoleShape:
    shape = RoleShape.of(Role.objects.get(code=code))
    for name, value in changes.items():
        setattr(shape, name, value)
    return shape


def test_the_built_in_roles_carry_exactly_the_permissions_declared_by_default():
    declared = all_permissions()
    for code in ROLES:
        expected = {name for name, (_label, roles) in declared.items() if code in roles}
        assert permissions_of_role(code) == expected, code
    assert definitions()[DIRECTOR].requires_mfa
    assert definitions()[CONSORTIUM_ADMIN].library_kinds == {"consortium"}
    assert not definitions()[STAFF].requires_mfa


def test_a_role_edit_follows_to_everyone_holding_it_and_is_audited(
    people, django_capture_on_commit_callbacks
):
    staff, director, branch = people["staff"], people["director"], people["branch_a"]
    assert not access.can(staff, "patron_notices.view_patrons", branch)
    assert not fresh(staff).has_perm("wagtailadmin.access_admin")
    shape = reshaped(
        STAFF,
        permissions=permissions_of_role(STAFF) - {"portal.view_library"}
        | {"patron_notices.view_patrons"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        do_edit_role(people["admin"], Role.objects.get(code=STAFF), shape)

    staff = fresh(staff)
    assert access.can(staff, "patron_notices.view_patrons", branch)
    # The patron directory lives in the admin: its door opened with the permission.
    assert staff.has_perm("wagtailadmin.access_admin")
    assert not access.can(staff, "portal.view_library", branch)
    # The director's own role still grants what staff lost.
    assert access.can(fresh(director), "portal.view_library", branch)

    entry = AuditEntry.objects.get(action="role.changed")
    assert entry.actor == people["admin"]
    assert entry.data["role"] == STAFF
    assert entry.data["permissions_added"] == ["patron_notices.view_patrons"]
    assert entry.data["permissions_removed"] == ["portal.view_library"]


def test_someone_holding_two_roles_keeps_what_the_other_still_grants(people):
    branch = people["branch_a"]
    both = factories.member(branch, STAFF)
    Membership.objects.create(user=both, library=branch, role=DIRECTOR)
    shape = reshaped(STAFF, permissions=permissions_of_role(STAFF) - {"policies.view_policies"})
    do_edit_role(people["admin"], Role.objects.get(code=STAFF), shape)
    assert access.can(fresh(both), "policies.view_policies", branch)
    assert not access.can(fresh(people["staff"]), "policies.view_policies", branch)


def test_rebuilding_grants_takes_the_same_queries_for_one_holder_or_many(
    small_tree, django_assert_num_queries
):
    perm_id = grants.ensure_permissions()["patron_notices.view_patrons"]
    staff = Role.objects.get(code=STAFF)
    factories.member(small_tree["systems"][0], STAFF)
    staff.permissions.add(perm_id)
    with django_assert_num_queries(2):
        assert grants.rebuild_role_grants(STAFF, {perm_id}) == 3  # the system, two branches
    staff.permissions.remove(perm_id)
    with django_assert_num_queries(2):
        assert grants.rebuild_role_grants(STAFF, {perm_id}) == 3
    for library in small_tree["branches"]:
        for _ in range(3):
            factories.member(library, STAFF)
    staff.permissions.add(perm_id)
    with django_assert_num_queries(2):
        assert grants.rebuild_role_grants(STAFF, {perm_id}) == 3 + 12


def test_a_role_held_by_many_is_rebuilt_by_a_worker_after_commit(
    people, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from portal.members import role_services, tasks

    settings.CONCORD_INLINE_REBUILD_HOLDERS = 0
    queued = []
    monkeypatch.setattr(role_services, "enqueue", lambda *args: queued.append(args))
    shape = reshaped(
        STAFF, permissions=permissions_of_role(STAFF) | {"patron_notices.view_patrons"}
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        do_edit_role(people["admin"], Role.objects.get(code=STAFF), shape)
    # Nothing changed for the holders yet, and nothing was queued before the commit.
    assert not access.can(fresh(people["staff"]), "patron_notices.view_patrons", people["branch_a"])
    assert queued == []
    for callback in callbacks:
        callback()
    perm_id = Permission.objects.get(codename="patron_notices.view_patrons").pk
    assert queued == [("members.rebuild_role_grants", STAFF, [perm_id])]
    tasks.rebuild_role_grants_task.run(*queued[0][1:])
    assert access.can(fresh(people["staff"]), "patron_notices.view_patrons", people["branch_a"])


def test_a_new_plugin_permission_goes_to_its_default_roles_once_then_is_the_offices(people):
    name = "governance.view_proposals"
    Permission.objects.filter(codename=name).delete()  # as before the plugin was installed
    forget_definitions()
    assert name not in permissions_of_role(STAFF)
    grants.ensure_permissions()
    assert name in permissions_of_role(STAFF)
    assert access.can(fresh(people["staff"]), name, people["branch_a"])

    # The office takes it away; installing again does not give it back.
    shape = reshaped(STAFF, permissions=permissions_of_role(STAFF) - {name})
    do_edit_role(people["admin"], Role.objects.get(code=STAFF), shape)
    grants.ensure_permissions()
    assert name not in permissions_of_role(STAFF)
    assert not access.can(fresh(people["staff"]), name, people["branch_a"])


def _ils_coordinator(admin, **changes):
    shape = RoleShape(
        name="ILS coordinator",
        permissions={"portal.view_library", "patron_notices.view_patrons"},
        library_kinds=[MemberLibrary.Kind.SYSTEM, MemberLibrary.Kind.LIBRARY],
        appointed_by={DIRECTOR},
    )
    for name, value in changes.items():
        setattr(shape, name, value)
    return do_create_role(admin, "ils_coordinator", shape)


def test_a_custom_role_is_appointed_where_its_kinds_allow_by_whom_it_names(people):
    _ils_coordinator(people["admin"])
    director, system, branch = people["director"], people["system_a"], people["branch_a"]
    assert "ils_coordinator" in appointable_roles(director, system)
    assert "ils_coordinator" not in appointable_roles(director, branch)
    coordinator = factories.person()
    do_add_membership(director, coordinator, system, "ils_coordinator")
    coordinator = fresh(coordinator)
    assert access.can(coordinator, "patron_notices.view_patrons", branch)
    assert not access.can(coordinator, "governance.cast_ballot", system)

    with pytest.raises(ActionRefused, match="cannot be appointed at .*branch"):
        check_add_membership(director, factories.person(), branch, "ils_coordinator")


def test_appointing_outside_ones_subtree_is_refused(people):
    with pytest.raises(ActionRefused, match="may not manage the people of") as refused:
        check_add_membership(people["director"], "new@example.org", people["system_b"], STAFF)
    assert refused.value.code == "permission"
    with pytest.raises(ActionRefused, match="may not manage the people of"):
        check_add_membership(people["director"], "new@example.org", people["root"], STAFF)


def test_appointing_a_role_one_may_not_grant_is_refused(people):
    _ils_coordinator(people["admin"], appointed_by=set())
    with pytest.raises(ActionRefused, match="only the consortium office may") as refused:
        check_add_membership(
            people["director"], "new@example.org", people["system_a"], "ils_coordinator"
        )
    assert refused.value.code == "permission"
    # Directors may no longer appoint staff once the office says so.
    do_edit_role(people["admin"], Role.objects.get(code=STAFF), reshaped(STAFF, appointed_by=set()))
    with pytest.raises(ActionRefused, match="may not appoint a Staff"):
        check_add_membership(people["director"], "new@example.org", people["branch_a"], STAFF)
    check_add_membership(people["admin"], "new@example.org", people["branch_a"], STAFF)


def test_retiring_a_role_people_hold_is_refused_and_a_retired_role_cannot_be_given(people):
    admin = people["admin"]
    with pytest.raises(ActionRefused, match=r"while people hold it \(1\)") as refused:
        do_edit_role(admin, Role.objects.get(code=STAFF), reshaped(STAFF, retired=True))
    assert refused.value.code == "retire_held"
    with pytest.raises(ActionRefused, match="the consortium office works through it"):
        role_services.check_retire_role(Role.objects.get(code=CONSORTIUM_ADMIN))

    role = _ils_coordinator(admin)
    do_edit_role(admin, role, reshaped("ils_coordinator", retired=True))
    with pytest.raises(ActionRefused, match="retired role") as refused:
        check_add_membership(admin, "new@example.org", people["system_a"], "ils_coordinator")
    assert refused.value.code == "retired"
    assert "ils_coordinator" not in appointable_roles(admin, people["system_a"])


def test_only_the_office_shapes_roles_and_names_stay_distinct(people):
    with pytest.raises(ActionRefused, match="Only the consortium office"):
        do_edit_role(people["director"], Role.objects.get(code=STAFF), reshaped(STAFF))
    with pytest.raises(ActionRefused, match="already a role called"):
        do_create_role(people["admin"], "heads", RoleShape(name="director"))
    with pytest.raises(ActionRefused, match="No module offers"):
        do_create_role(people["admin"], "odd", RoleShape(name="Odd", permissions={"x.y"}))


def test_renaming_a_role_changes_what_people_see_and_mfa_follows_the_role(people):
    admin, staff = people["admin"], people["staff"]
    do_edit_role(
        admin, Role.objects.get(code=DIRECTOR), reshaped(DIRECTOR, name="Member representative")
    )
    membership = Membership.objects.get(user=people["director"])
    assert role_name(membership.role) == "Member representative"
    assert not access.requires_mfa(fresh(staff))
    do_edit_role(admin, Role.objects.get(code=STAFF), reshaped(STAFF, requires_mfa=True))
    assert access.requires_mfa(fresh(staff))


def test_the_people_import_takes_role_names_or_codes_as_the_office_defined_them(
    people, django_capture_on_commit_callbacks
):
    _ils_coordinator(people["admin"])
    do_edit_role(people["admin"], Role.objects.get(code=DIRECTOR), reshaped(DIRECTOR, name="Dean"))
    system = people["system_a"].code
    text = (
        "email,name,library,role\n"
        f"ils@example.org,Ila Sorensen,{system},ILS coordinator\n"
        f"ils2@example.org,Ivo Sand,{system},ils_coordinator\n"
        f"dean@example.org,Dana Dean,{system},dean\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = import_people(people["admin"], io.BytesIO(text.encode()))
    assert report.ok, report.errors
    roles = dict(
        Membership.objects.filter(
            user__email__in=["ils@example.org", "ils2@example.org", "dean@example.org"]
        ).values_list("user__email", "role")
    )
    assert roles == {
        "ils@example.org": "ils_coordinator",
        "ils2@example.org": "ils_coordinator",
        "dean@example.org": DIRECTOR,
    }
    bad = import_people(
        people["admin"],
        io.BytesIO(
            b"email,name,library,role\nx@example.org,X," + system.encode() + b",Librarian\n"
        ),
    )
    assert not bad.ok
    assert "Dean" in bad.errors[0].message and "ILS coordinator" in bad.errors[0].message


def test_grants_of_a_removed_permission_are_gone_from_guardian_too(people):
    staff = people["staff"]
    rows = MemberLibraryUserObjectPermission.objects.filter(
        user=staff, permission__codename="policies.view_policies"
    )
    assert rows.exists()
    shape = reshaped(STAFF, permissions=permissions_of_role(STAFF) - {"policies.view_policies"})
    do_edit_role(people["admin"], Role.objects.get(code=STAFF), shape)
    assert not rows.exists()


def test_the_office_shapes_a_role_in_the_admin_permissions_grouped_by_module(
    client, people, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from tests.members.conftest import login_ready

    client.force_login(login_ready(people["admin"]))
    staff = Role.objects.get(code=STAFF)
    assert client.get(reverse("roles:index")).status_code == 200
    page = client.get(reverse("roles:edit", args=[staff.pk]))
    assert page.status_code == 200
    form = page.context["form"]
    # One list of checkboxes per module, under the module's own name and labels.
    assert form.fields["permissions_governance"].label == "Permissions: Committee voting"
    assert ("governance.cast_ballot", "Vote for the library") in (
        form.fields["permissions_governance"].choices
    )
    data = {
        "code": STAFF,
        "name": "Library staff",
        "description": "",
        "appointed_by": [DIRECTOR],
        **{f: list(form[f].value() or ()) for f in form.permission_fields},
    }
    data["permissions_governance"] = [*data["permissions_governance"], "governance.cast_ballot"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("roles:edit", args=[staff.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    assert access.can(fresh(people["staff"]), "governance.cast_ballot", people["branch_a"])
    assert Role.objects.get(code=STAFF).name == "Library staff"
    assert AuditEntry.objects.filter(action="role.changed", actor=people["admin"]).exists()

    # Retiring a role people hold comes back on the form, saying why.
    response = client.post(reverse("roles:edit", args=[staff.pk]), {**data, "retired": "on"})
    assert response.status_code == 200
    assert "cannot be retired while people hold it (1)" in response.content.decode()

    # A role of the consortium's own, added from the same form.
    response = client.post(
        reverse("roles:add"),
        {
            "code": "ils_coordinator",
            "name": "ILS coordinator",
            "description": "Keeps the patron directory.",
            "permissions_portal": ["portal.view_library"],
            "permissions_patron_notices": ["patron_notices.view_patrons"],
            "library_kinds": ["system", "library"],
            "appointed_by": [DIRECTOR],
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert permissions_of_role("ils_coordinator") == {
        "portal.view_library",
        "patron_notices.view_patrons",
    }
    assert definitions()["ils_coordinator"].appointed_by == {DIRECTOR}
    assert "ils_coordinator" in appointable_roles(people["director"], people["system_a"])

    client.force_login(login_ready(people["director"]))
    for url in (
        reverse("roles:index"),
        reverse("roles:add"),
        reverse("roles:edit", args=[staff.pk]),
    ):
        response = client.get(url)
        assert response.status_code in (302, 403), url


@pytest.mark.slow
def test_the_demo_shows_a_role_of_the_consortiums_own_making(settings):
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO(), libraries=12, staff_per_library=1, patrons=50)
    coordinators = Membership.objects.filter(role="ils_coordinator").select_related("library")
    assert coordinators.exists()
    for membership in coordinators:
        person, library = fresh(membership.user), membership.library
        assert role_name(membership.role) == "ILS coordinator"
        assert library.kind in (MemberLibrary.Kind.SYSTEM, MemberLibrary.Kind.LIBRARY)
        # Keeps the patron directory, votes on nothing.
        assert access.can(person, "patron_notices.view_patrons", library)
        assert access.can(person, "patron_notices.import_patrons", library)
        assert not access.can_anywhere(person, "governance.cast_ballot")


def test_a_role_of_the_offices_making_is_offered_wherever_roles_are_picked(people):
    from knowledge_base.policies.choices import default_acknowledging_roles
    from knowledge_base.training.forms import AssignForm
    from plugins.announcements.forms import AnnouncementForm

    do_create_role(
        people["admin"],
        "cataloguer",
        RoleShape(
            name="Cataloguer",
            permissions={
                "portal.view_library",
                "policies.acknowledge_policy",
                "announcements.view_announcements",
            },
        ),
    )
    assert ("cataloguer", "Cataloguer") in AnnouncementForm.base_fields["roles"].choices
    assert "cataloguer" in default_acknowledging_roles()
    assert ("cataloguer", "Cataloguer") in AssignForm(
        libraries=MemberLibrary.objects.none()
    ).fields["roles"].choices
