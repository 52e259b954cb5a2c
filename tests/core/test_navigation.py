"""The site navigation: each link where the person holds its permission, pointing where
the URLs served put it."""

import pytest
from django.test import RequestFactory, override_settings

from portal.members.roles import STAFF
from portal.navigation import navigation
from tests import factories

pytestmark = pytest.mark.django_db


def labels(user) -> dict[str, str]:
    request = RequestFactory().get("/")
    request.user = user
    return {str(entry.label): entry.url for entry in navigation(request)}


def test_links_are_worked_out_for_the_urls_served_not_kept_from_others():
    # The links' addresses are worked out once per process (navigation._path), for the
    # URLs being served: URLs swapped out (a test, a deployment's own URLconf) are not
    # pointed to.
    system = factories.tree(systems=1, branches=0)["systems"][0]
    staff = factories.member(system, STAFF)
    assert labels(staff)["My training"] == "/training/me/"
    with override_settings(ROOT_URLCONF="tests.core.urlconfs.without_training"):
        assert "My training" not in labels(staff)
        assert labels(staff)["Dashboard"] == "/dashboard/"
    assert labels(staff)["My training"] == "/training/me/"
