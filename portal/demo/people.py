"""The demo's people: the office, a director and staff at every library, communications
officers and trainers, and the consortium's own "ILS coordinator" role; every account with
the demo password, a verified address and, where a role needs it, the demo TOTP secret.
Written in bulk (no per-row signals): the caller resolves the grants afterwards."""

from __future__ import annotations

import random

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from portal.members.grants import ensure_permissions
from portal.members.models import MemberLibrary, Membership, Role
from portal.members.office import sync_office_group
from portal.members.roles import (
    COMMUNICATIONS,
    CONSORTIUM_ADMIN,
    DIRECTOR,
    STAFF,
    TRAINER,
    definitions,
    forget_definitions,
)

from . import (
    COMMUNICATIONS_EMAIL,
    DEMO_DOMAIN,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    DEPUTY_EMAIL,
    FIRST_NAMES,
    LAST_NAMES,
    OFFICE_EMAIL,
    TRAINING_EMAIL,
)

Kind = MemberLibrary.Kind

# The demo's one role of the consortium's own making, beside the five built-in ones.
ILS_COORDINATOR = "ils_coordinator"
ILS_COORDINATOR_PERMISSIONS = (
    "portal.view_library",
    "patron_notices.view_patrons",
    "patron_notices.import_patrons",
)


def create_roles() -> None:
    """The ILS coordinator: keeps a system's or standalone library's patron directory
    (sees and imports its patrons) and votes on nothing. Directors appoint one."""
    role, _created = Role.objects.get_or_create(
        code=ILS_COORDINATOR,
        defaults={
            "name": "ILS coordinator",
            "description": "Keeps the library's patron directory in step with the ILS.",
            "library_kinds": [Kind.SYSTEM, Kind.LIBRARY],
        },
    )
    perm_ids = ensure_permissions()
    role.permissions.set([perm_ids[p] for p in ILS_COORDINATOR_PERMISSIONS if p in perm_ids])
    role.appointed_by.set(Role.objects.filter(code=DIRECTOR))
    forget_definitions()


def create_people(
    rng: random.Random, libraries: list[MemberLibrary], staff_per_library: int
) -> list[int]:
    """Accounts, verified addresses, TOTP for those who must use MFA, memberships, in bulk;
    returns the people's ids (``libraries``: root first, as ``create_libraries`` gives)."""
    User = get_user_model()
    password = make_password(DEMO_PASSWORD)  # one hash for all: fast, and it is a demo
    people: list[tuple[str, str, dict]] = []  # (email, full name, extra fields)
    roles: list[tuple[str, int, str]] = []  # (email, library index, role)

    def person(email: str, library_index: int, *role_list: str, **extra) -> None:
        people.append((email, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", extra))
        roles.extend((email, library_index, role) for role in role_list)

    person(OFFICE_EMAIL, 0, CONSORTIUM_ADMIN, is_staff=True)
    person(DEPUTY_EMAIL, 0, CONSORTIUM_ADMIN, is_staff=True)
    person(COMMUNICATIONS_EMAIL, 0, COMMUNICATIONS)
    person(TRAINING_EMAIL, 0, TRAINER)
    for index, library in enumerate(libraries[1:], start=1):
        person(f"director.{library.code}@{DEMO_DOMAIN}", index, DIRECTOR)
        for n in range(1, staff_per_library + 1):
            extra_roles = []
            if n == 1 and library.kind != Kind.BRANCH:
                extra_roles.append(COMMUNICATIONS)
            if n == 2 and index % 4 == 0:
                extra_roles.append(TRAINER)
            person(f"staff{n}.{library.code}@{DEMO_DOMAIN}", index, STAFF, *extra_roles)
        if library.kind != Kind.BRANCH and index % 3 == 1:
            person(f"ils.{library.code}@{DEMO_DOMAIN}", index, ILS_COORDINATOR)

    users = User.objects.bulk_create(
        [
            User(email=email, full_name=name, password=password, **extra)
            for email, name, extra in people
        ],
        batch_size=2000,
    )
    by_email = {user.email: user for user in users}
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
        batch_size=2000,
    )
    Membership.objects.bulk_create(
        [
            Membership(user=by_email[email], library=libraries[index], role=role)
            for email, index, role in roles
        ],
        batch_size=2000,
    )
    mfa_roles = {code for code, role in definitions().items() if role.requires_mfa}
    must_use_mfa = {email for email, _index, role in roles if role in mfa_roles}
    secret = encrypt(DEMO_TOTP_SECRET)  # through the MFA adapter, as allauth stores it
    Authenticator.objects.bulk_create(
        [
            Authenticator(
                user=by_email[email], type=Authenticator.Type.TOTP, data={"secret": secret}
            )
            for email in sorted(must_use_mfa)
        ],
        batch_size=2000,
    )
    # bulk_create sends no signals: give the office its Wagtail admin group here.
    for email in {email for email, _i, role in roles if role == CONSORTIUM_ADMIN}:
        sync_office_group(by_email[email].pk)
    return [user.pk for user in users]
