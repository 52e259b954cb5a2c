"""Reads of member libraries and their people that views share."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import MemberLibrary, Membership


def people_of(library: MemberLibrary) -> QuerySet[Membership]:
    """The memberships held at ``library`` itself, with their people; one query."""
    return (
        Membership.objects.filter(library=library)
        .select_related("user")
        .order_by("role", "user__email")
    )
