import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator

from portal.members.models import MemberLibrary, Membership
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories


def login_ready(user):
    """A verified address and an authenticator, so neither allauth nor the MFA rule
    stands between the test client and the page."""
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    return user


@pytest.fixture
def people(small_tree):
    """The small tree plus an office admin, a director of system 0, and staff of branch 0."""
    # Reload: treebeard renumbers sibling paths as it inserts in name order.
    small_tree = {
        key: (
            [MemberLibrary.objects.get(pk=lib.pk) for lib in value]
            if isinstance(value, list)
            else MemberLibrary.objects.get(pk=value.pk)
        )
        for key, value in small_tree.items()
    }
    root = small_tree["root"]
    system_a, system_b = small_tree["systems"]
    admin = factories.person("office@example.org")
    Membership.objects.create(user=admin, library=root, role=CONSORTIUM_ADMIN)
    director = factories.member(system_a, DIRECTOR, "director@example.org")
    staff = factories.member(small_tree["branches"][0], STAFF, "staff@example.org")
    return {
        **small_tree,
        "system_a": system_a,
        "system_b": system_b,
        "branch_a": small_tree["branches"][0],  # under system_a
        "branch_b": small_tree["branches"][2],  # under system_b
        "admin": admin,
        "director": director,
        "staff": staff,
    }
