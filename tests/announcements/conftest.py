import pytest

from plugins.announcements import services
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa


@pytest.fixture
def world(db):
    """Two systems with a branch each; a director and staff per system, staff per branch."""
    root = factories.consortium()
    north = factories.library(root, name="North System")
    north_branch = factories.library(north, name="North Branch")
    south = factories.library(root, name="South System")
    south_branch = factories.library(south, name="South Branch")
    return {
        "root": root,
        "north": north,
        "north_branch": north_branch,
        "south": south,
        "south_branch": south_branch,
        "office": with_mfa(factories.member(root, CONSORTIUM_ADMIN, email="office@example.org")),
        "north_director": with_mfa(factories.member(north, DIRECTOR, email="nd@example.org")),
        "north_staff": factories.member(north, STAFF, email="ns@example.org"),
        "north_branch_staff": factories.member(north_branch, STAFF, email="nbs@example.org"),
        "south_director": with_mfa(factories.member(south, DIRECTOR, email="sd@example.org")),
        "south_staff": factories.member(south, STAFF, email="ss@example.org"),
        "south_branch_staff": factories.member(south_branch, STAFF, email="sbs@example.org"),
    }


def publish(user, title="Notice", **fields):
    """Publish through the same check/do pair as the portal form."""
    fields.setdefault("body", "<p>Body text</p>")
    draft = services.Draft(title=title, **fields)
    services.check_publish_announcement(user, draft)
    return services.do_publish_announcement(user, draft)
