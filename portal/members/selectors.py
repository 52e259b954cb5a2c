"""Reads of member libraries and their people that views share."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import MemberLibrary, Membership


def consortium_root() -> MemberLibrary | None:
    """The consortium: the root of the member library tree, where the office's permissions
    are checked (None before any library exists)."""
    return MemberLibrary.get_first_root_node()


def people_of(library: MemberLibrary) -> QuerySet[Membership]:
    """The memberships held at ``library`` itself, with their people; one query."""
    return (
        Membership.objects.filter(library=library)
        .select_related("user")
        .order_by("role", "user__email")
    )
