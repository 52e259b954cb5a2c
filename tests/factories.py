"""Builders for test data. They go through the same services and models the portal uses."""

from __future__ import annotations

import itertools

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


def person(email: str | None = None, password: str = "correct horse battery", **fields):
    email = email or f"person{next(_codes)}@example.org"
    return get_user_model().objects.create_user(email=email, password=password, **fields)


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
