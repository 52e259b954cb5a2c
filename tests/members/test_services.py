import pytest
from django.contrib.auth.models import Group

from portal import access
from portal.audit.models import AuditEntry
from portal.members import services
from portal.members.exceptions import ActionRefused
from portal.members.models import LibraryPluginSwitch, MemberLibrary, Membership, PluginState
from portal.members.office import OFFICE_GROUP
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF, TRAINER
from portal.plugins import available_plugins
from tests import factories

pytestmark = pytest.mark.django_db


def fresh(library):
    return MemberLibrary.objects.get(pk=library.pk)


def fresh_user(user):
    access.forget(user)
    return user


# --- appointing rules --------------------------------------------------------------------


def test_director_appoints_in_own_subtree(people):
    newcomer = factories.person("new@example.org")
    for library in (people["system_a"], people["branch_a"]):
        membership = services.do_add_membership(people["director"], newcomer, library, STAFF)
        assert membership.library == library
    assert Membership.objects.filter(user=newcomer).count() == 2


@pytest.mark.parametrize("where", ["system_b", "branch_b", "root"])
def test_director_cannot_appoint_beside_or_above(people, where):
    newcomer = factories.person("new@example.org")
    with pytest.raises(ActionRefused) as refused:
        services.check_add_membership(people["director"], newcomer, people[where], STAFF)
    assert refused.value.code == "permission"
    with pytest.raises(ActionRefused):
        services.do_add_membership(people["director"], newcomer, people[where], STAFF)
    assert not Membership.objects.filter(user=newcomer).exists()


def test_director_cannot_appoint_an_administrator(people):
    with pytest.raises(ActionRefused):
        services.check_add_membership(
            people["director"], "x@example.org", people["branch_a"], CONSORTIUM_ADMIN
        )


def test_staff_cannot_appoint_at_all(people):
    with pytest.raises(ActionRefused) as refused:
        services.check_add_membership(people["staff"], "x@example.org", people["branch_a"], STAFF)
    assert "may not manage the people" in str(refused.value)


def test_admin_appoints_anything_anywhere(people):
    newcomer = factories.person("new@example.org")
    for library in (people["system_b"], people["branch_a"]):
        services.do_add_membership(people["admin"], newcomer, library, TRAINER)
    services.do_add_membership(people["admin"], newcomer, people["root"], CONSORTIUM_ADMIN)
    assert Membership.objects.filter(user=newcomer).count() == 3


def test_administrators_are_appointed_at_the_consortium_only(people):
    with pytest.raises(ActionRefused):
        services.check_add_membership(
            people["admin"], "x@example.org", people["system_a"], CONSORTIUM_ADMIN
        )


def test_duplicate_appointment_refused(people):
    with pytest.raises(ActionRefused) as refused:
        services.check_add_membership(people["admin"], people["staff"], people["branch_a"], STAFF)
    assert refused.value.code == "duplicate"


def test_bad_email_and_role_refused(people):
    with pytest.raises(ActionRefused) as refused:
        services.check_add_membership(people["admin"], "not-an-address", people["root"], STAFF)
    assert refused.value.code == "email"
    with pytest.raises(ActionRefused) as refused:
        services.check_add_membership(people["admin"], "a@example.org", people["root"], "king")
    assert refused.value.code == "role"


# --- grants follow appointments ----------------------------------------------------------


def test_grants_reach_branches_and_vanish_after_removal(people):
    newcomer = factories.person("new@example.org")
    system = people["system_a"]
    branches = list(system.get_children())
    assert branches
    assert not access.can(newcomer, "portal.manage_people", system)

    membership = services.do_add_membership(people["admin"], newcomer, system, DIRECTOR)
    fresh_user(newcomer)
    for library in (system, *branches):
        assert access.can(newcomer, "portal.manage_people", fresh(library))
    assert not access.can(newcomer, "portal.manage_people", fresh(people["system_b"]))
    assert set(access.libraries_for(newcomer, "portal.manage_people")) == {system, *branches}

    services.do_remove_membership(people["admin"], membership)
    fresh_user(newcomer)
    for library in (system, *branches):
        assert not access.can(newcomer, "portal.view_library", fresh(library))
    assert not access.libraries_for(newcomer, "portal.view_library").exists()


def test_director_removes_in_own_subtree_only(people):
    staff_membership = Membership.objects.get(user=people["staff"])
    other = factories.member(people["branch_b"], STAFF, "other@example.org")
    with pytest.raises(ActionRefused):
        services.do_remove_membership(people["director"], Membership.objects.get(user=other))
    services.do_remove_membership(people["director"], staff_membership)
    assert not Membership.objects.filter(pk=staff_membership.pk).exists()


def test_last_administrator_cannot_be_removed(people):
    membership = Membership.objects.get(user=people["admin"], role=CONSORTIUM_ADMIN)
    with pytest.raises(ActionRefused) as refused:
        services.do_remove_membership(people["admin"], membership)
    assert refused.value.code == "last_admin"


def test_administrators_join_and_leave_the_office_group(people):
    admin = people["admin"]
    assert admin.groups.filter(name=OFFICE_GROUP).exists()
    assert admin.has_perm("wagtailadmin.access_admin")
    assert not people["director"].groups.filter(name=OFFICE_GROUP).exists()
    assert not people["staff"].has_perm("wagtailadmin.access_admin")
    second = factories.person("second@example.org")
    services.do_add_membership(admin, second, people["root"], CONSORTIUM_ADMIN)
    services.do_remove_membership(admin, Membership.objects.get(user=admin))
    assert not Group.objects.get(name=OFFICE_GROUP).user_set.filter(pk=admin.pk).exists()


def test_appointments_are_audited(people, django_capture_on_commit_callbacks):
    newcomer = factories.person("new@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        membership = services.do_add_membership(
            people["director"], newcomer, people["branch_a"], STAFF
        )
    entry = AuditEntry.objects.get(action="membership.added")
    assert entry.actor == people["director"]
    assert entry.library == people["branch_a"]
    assert entry.data == {"user": "new@example.org", "role": STAFF}
    with django_capture_on_commit_callbacks(execute=True):
        services.do_remove_membership(people["director"], membership)
    entry = AuditEntry.objects.get(action="membership.removed")
    assert entry.library == people["branch_a"]
    assert entry.data["user"] == "new@example.org"


def test_refused_appointment_is_not_audited(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ActionRefused):
        services.do_add_membership(
            people["director"], factories.person(), people["system_b"], STAFF
        )
    assert not AuditEntry.objects.filter(action="membership.added").exists()


# --- plugin switches ---------------------------------------------------------------------


@pytest.fixture
def plugin():
    plugins = [p for p in available_plugins() if p.meta.permissions]
    if not plugins:
        pytest.skip("no plugin with permissions is installed")
    return plugins[0]


def _director_perm(plugin):
    for perm in plugin.meta.permissions:
        if DIRECTOR in perm.default_roles:
            return f"{plugin.label}.{perm.codename}"
    pytest.skip("the plugin gives directors nothing")


def test_switching_off_removes_access_for_library_and_branches(people, plugin, monkeypatch):
    perm = _director_perm(plugin)
    system, branch = people["system_a"], people["branch_a"]
    director = people["director"]
    assert access.can(director, perm, fresh(system))
    assert access.can(director, perm, fresh(branch))

    calls = []
    monkeypatch.setattr(type(plugin), "uninstalled", lambda self, lib: calls.append(("off", lib)))
    monkeypatch.setattr(type(plugin), "installed", lambda self, lib: calls.append(("on", lib)))

    services.do_switch_plugin(director, system, plugin.label, False)
    assert not access.can(director, perm, fresh(system))
    assert not access.can(director, perm, fresh(branch))
    assert not access.libraries_for(director, perm).filter(pk=branch.pk).exists()
    # Every library whose state changed hears about it.
    assert {lib.pk for what, lib in calls if what == "off"} == {
        lib.pk for lib in MemberLibrary.get_tree(system)
    }
    assert LibraryPluginSwitch.objects.get(library=system, plugin=plugin.label).enabled is False

    calls.clear()
    services.do_switch_plugin(director, system, plugin.label, True)
    assert access.can(director, perm, fresh(branch))
    assert {what for what, _lib in calls} == {"on"}


def test_mandatory_plugin_refuses_switch_off(people, plugin):
    PluginState.objects.create(plugin=plugin.label, mandatory=True)
    with pytest.raises(ActionRefused) as refused:
        services.do_switch_plugin(people["director"], people["system_a"], plugin.label, False)
    assert refused.value.code == "mandatory"
    assert "mandatory" in str(refused.value)
    assert not LibraryPluginSwitch.objects.exists()


def test_switching_needs_manage_plugins(people, plugin):
    with pytest.raises(ActionRefused):
        services.do_switch_plugin(people["staff"], people["branch_a"], plugin.label, False)
    with pytest.raises(ActionRefused):
        services.do_switch_plugin(people["director"], people["system_b"], plugin.label, False)
    with pytest.raises(ActionRefused):
        services.do_switch_plugin(people["director"], people["system_a"], "no_such", False)


def test_switch_is_audited(people, plugin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.do_switch_plugin(people["admin"], people["system_b"], plugin.label, False)
    entry = AuditEntry.objects.get(action="plugin.switched")
    assert entry.library == people["system_b"]
    assert entry.data == {"plugin": plugin.label, "enabled": False}
