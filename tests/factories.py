"""Builders for test data. They go through the same services and models the portal uses."""

from __future__ import annotations

import contextlib
import itertools
import time

from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal import auth as totp_auth
from django.contrib.auth import get_user_model

from portal.members.models import MemberLibrary, Membership

_codes = itertools.count(1)


def consortium(name: str = "Test Consortium", code: str = "root") -> MemberLibrary:
    return MemberLibrary.add_root(name=name, code=code, kind=MemberLibrary.Kind.CONSORTIUM)


def library(parent: MemberLibrary, name: str | None = None, kind: str | None = None, **fields):
    n = next(_codes)
    if kind is None:
        kind = (
            MemberLibrary.Kind.SYSTEM
            if parent.kind == MemberLibrary.Kind.CONSORTIUM
            else MemberLibrary.Kind.BRANCH
        )
    fields.setdefault("code", f"lib{n}")
    return parent.add_child(name=name or f"Library {n}", kind=kind, **fields)


def person(
    email: str | None = None,
    password: str = "correct horse battery",
    verified: bool = False,
    **fields,
):
    """A person; ``verified=True`` also records their address as verified, so they can log in."""
    email = email or f"person{next(_codes)}@example.org"
    user = get_user_model().objects.create_user(email=email, password=password, **fields)
    if verified:
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def totp(user, recovery_codes: bool = True) -> str:
    """Give ``user`` an authenticator app (and recovery codes); returns its secret."""
    secret = totp_auth.generate_totp_secret()
    totp_auth.TOTP.activate(user, secret)
    if recovery_codes:
        RecoveryCodes.activate(user)
    return secret


def totp_code(secret: str) -> str:
    """The code an authenticator app shows for ``secret`` right now; in a code's last two
    seconds, the next one (as a person waits for a fresh code rather than type one that
    runs out on the way: the server would refuse it, and a sign-in test fail once in a
    hundred runs)."""
    left = mfa_settings.TOTP_PERIOD - time.time() % mfa_settings.TOTP_PERIOD
    if left < 2:
        time.sleep(left + 0.1)
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD
    return totp_auth.format_hotp_value(totp_auth.hotp_value(secret, counter))


def member(library: MemberLibrary, role: str, email: str | None = None, **fields):
    user = person(email, **fields)
    Membership.objects.create(user=user, library=library, role=role)
    return user


def tree(systems: int = 2, branches: int = 2) -> dict:
    """A consortium with ``systems`` systems of ``branches`` branches each."""
    root = consortium()
    result = {"root": root, "systems": [], "branches": []}
    for _ in range(systems):
        system = library(root)
        result["systems"].append(system)
        for _ in range(branches):
            result["branches"].append(library(system))
    return result


def ensure_site():
    """The Wagtail site, home page, locale and root collection that migrations create.

    A transactional test empties every table when it ends (migrations' data included), so
    tests that run after one and need the site call this first.
    """
    from wagtail.models import Collection, Locale, Page, Site

    from portal.home.models import HomePage

    site = Site.objects.filter(is_default_site=True).first()
    if site is not None:
        return site
    Locale.objects.get_or_create(language_code="en")
    if Collection.get_first_root_node() is None:
        Collection.add_root(name="Root")
    root = Page.get_first_root_node() or Page.add_root(title="Root", slug="root")
    home = HomePage.objects.first()
    if home is None:
        home = root.add_child(instance=HomePage(title="Welcome", slug="home"))
    return Site.objects.create(
        hostname="localhost", port=80, root_page=home, is_default_site=True, site_name="Concord"
    )


@contextlib.contextmanager
def built_once(django_db_blocker):
    """A world that a module's tests only read, built once for all of them.

    Use it in a module-scoped fixture: the world is built inside a transaction, each test
    then runs in a savepoint of it (pytest-django's ``db``), so what a test changes is undone
    after it, and the whole world is rolled back when the module ends::

        @pytest.fixture(scope="module")
        def seeded(django_db_setup, django_db_blocker):
            with factories.built_once(django_db_blocker):
                yield seed()
    """
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        try:
            yield
        finally:
            transaction.set_rollback(True)


def with_mfa(user):
    """``user`` with a second factor on record, which directors and the office need to use
    the portal (the code itself is never asked in these tests; ``totp`` gives a real one)."""
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    return user
