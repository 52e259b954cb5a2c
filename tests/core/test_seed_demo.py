import io

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import validate_totp_code
from allauth.mfa.utils import decrypt, is_mfa_enabled
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from plugins.patron_notices.models import Patron
from portal import access
from portal.demo import DEMO_PASSWORD, OFFICE_EMAIL
from portal.members.models import MemberLibrary, Membership
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories

Kind = MemberLibrary.Kind
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def debug(settings):
    settings.DEBUG = True


@pytest.fixture(scope="module", autouse=True)
def seeded(django_db_setup, django_db_blocker):
    """One demo for the module (the tests read it, or change it inside their savepoint);
    what ``seed_demo`` printed."""
    with factories.built_once(django_db_blocker), override_settings(DEBUG=True):
        yield seed()


def seed(**options) -> str:
    out = io.StringIO()
    options = {"libraries": 12, "staff_per_library": 2, "patrons": 300, **options}
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def user(email):
    return get_user_model().objects.get(email=email)


def test_tree_shape():
    root = MemberLibrary.get_first_root_node()
    assert root.kind == Kind.CONSORTIUM and MemberLibrary.get_root_nodes().count() == 1
    below = list(root.get_descendants())
    kinds = {lib.kind for lib in below}
    assert kinds == {Kind.SYSTEM, Kind.BRANCH, Kind.LIBRARY}
    # --libraries counts service points (libraries and branches); systems come on top.
    assert sum(lib.kind != Kind.SYSTEM for lib in below) == 12
    for lib in below:
        parent = lib.get_parent()
        assert parent.kind == (Kind.SYSTEM if lib.kind == Kind.BRANCH else Kind.CONSORTIUM)
        assert lib.vote_weight > 0
        assert lib.reply_to.endswith(".example.org")
    assert {lib.library_type for lib in below} >= {"public", "academic"}
    assert len({lib.code for lib in below}) == len(below)
    # The computed paths are a sound treebeard tree, sorted like add_child would sort it.
    assert MemberLibrary.find_problems() == ([], [], [], [], [])
    system = next(lib for lib in below if lib.kind == Kind.SYSTEM)
    names = [child.name for child in system.get_children()]
    assert names == sorted(names) and system.numchild == len(names)
    system.add_child(name="A New Branch", code="new-branch", kind=Kind.BRANCH)
    assert MemberLibrary.find_problems() == ([], [], [], [], [])


def test_people_roles_and_logins(seeded):
    output = seeded
    root = MemberLibrary.get_first_root_node()
    office = user(OFFICE_EMAIL)
    assert office.is_staff and office.check_password(DEMO_PASSWORD)
    assert Membership.objects.filter(user=office, library=root, role=CONSORTIUM_ADMIN).exists()
    for lib in root.get_descendants():
        directors = Membership.objects.filter(library=lib, role=DIRECTOR)
        assert [m.user.email for m in directors] == [f"director.{lib.code}@example.org"]
        staff = Membership.objects.filter(library=lib, role=STAFF)
        assert sorted(m.user.email for m in staff) == [
            f"staff1.{lib.code}@example.org",
            f"staff2.{lib.code}@example.org",
        ]
    assert Membership.objects.filter(role="communications").exists()
    assert Membership.objects.filter(role="trainer").exists()
    users = get_user_model().objects.all()
    assert EmailAddress.objects.filter(verified=True, primary=True).count() == users.count()
    assert "office@example.org" in output and "concord-demo" in output


def test_plugins_rebuild_what_they_keep_in_step_with_memberships():
    # The seeder writes memberships in bulk, without their per-row signals; the patron
    # notices plugin still opens the admin to the demo's communications people and directors.
    communications = Membership.objects.filter(role="communications").first().user
    director = Membership.objects.filter(role=DIRECTOR).first().user
    staff_only = (
        get_user_model()
        .objects.filter(memberships__role=STAFF)
        .exclude(memberships__role__in=["communications", DIRECTOR, "trainer", CONSORTIUM_ADMIN])
        .first()
    )
    assert communications.has_perm("wagtailadmin.access_admin")
    assert director.has_perm("wagtailadmin.access_admin")
    assert not staff_only.has_perm("wagtailadmin.access_admin")


def test_mfa_is_provisioned_with_the_demo_secret():
    must = (
        get_user_model()
        .objects.filter(memberships__role__in=[CONSORTIUM_ADMIN, DIRECTOR])
        .distinct()
    )
    assert must.count() == Authenticator.objects.filter(type="totp").count() > 1
    assert all(is_mfa_enabled(u) for u in must)
    out = io.StringIO()
    call_command("demo_totp", stdout=out)
    code = out.getvalue().strip()
    assert len(code) == 6 and code.isdigit()
    authenticator = Authenticator.objects.filter(type="totp").first()
    assert validate_totp_code(decrypt(authenticator.data["secret"]), code)


def test_grants_are_resolved_down_the_tree():
    system = MemberLibrary.objects.filter(kind=Kind.SYSTEM).first()
    branch = system.get_children().first()
    elsewhere = MemberLibrary.objects.filter(kind=Kind.LIBRARY).first()
    system_director = user(f"director.{system.code}@example.org")
    branch_staff = user(f"staff1.{branch.code}@example.org")
    assert access.can(system_director, "portal.manage_library", branch)
    assert not access.can(system_director, "portal.manage_library", elsewhere)
    assert access.can(branch_staff, "portal.view_library", branch)
    assert not access.can(branch_staff, "portal.view_library", system)
    assert not access.can(branch_staff, "portal.manage_library", branch)


def test_patrons_come_from_the_plugin_seeder():
    patrons = Patron.objects.all()
    assert patrons.count() == 300
    assert set(patrons.values_list("library__kind", flat=True)) <= {Kind.LIBRARY, Kind.BRANCH}
    assert patrons.filter(consent_given_at__isnull=False).exists()
    assert set(patrons.values_list("preferred_language", flat=True)) <= {"en", "es", "fr"}


def test_a_second_run_is_refused_and_reset_rebuilds():
    counts = (MemberLibrary.objects.count(), get_user_model().objects.count())
    with pytest.raises(CommandError, match="--reset"):
        seed(patrons=50)
    assert (MemberLibrary.objects.count(), get_user_model().objects.count()) == counts
    seed(patrons=50, reset=True)
    assert (MemberLibrary.objects.count(), get_user_model().objects.count()) == counts
    assert Patron.objects.count() == 50
    assert Authenticator.objects.filter(user__email=OFFICE_EMAIL).count() == 1
