"""Who votes for which library today: the libraries where a person holds the vote
(director) and the delegations naming them (alternate, proxy)."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from portal import access
from portal.members.models import MemberLibrary

from ..models import VOTING_KINDS, Delegation
from ..rules import CAST, NAME_PROXY, VIEW, VotingAuthority, can_manage


def active_delegations(user, day=None) -> list[Delegation]:
    if not getattr(user, "is_authenticated", False):
        return []
    day = day or timezone.localdate()
    return list(
        Delegation.objects.filter(person=user, revoked_at=None, starts_on__lte=day)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .select_related("library")
    )


def voter_libraries(user, day=None) -> dict[int, tuple[MemberLibrary, VotingAuthority]]:
    """Every voting member ``user`` may vote for today, with the authority: one query, and
    two more for those who hold the vote themselves."""
    found: dict[int, tuple[MemberLibrary, VotingAuthority]] = {}
    for delegation in active_delegations(user, day):
        if delegation.library.kind in VOTING_KINDS:
            found.setdefault(
                delegation.library_id,
                (delegation.library, VotingAuthority(delegation.kind, delegation)),
            )
    # Only those who hold the vote somewhere (known to the request already) need the
    # libraries read, with the plugin switches that come with them.
    if CAST in access.permissions_anywhere(user):
        for library in access.libraries_for(user, CAST).filter(kind__in=VOTING_KINDS):
            found[library.pk] = (library, VotingAuthority("director"))
    return found


def may_view(user) -> bool:
    return access.can_anywhere(user, VIEW) or bool(active_delegations(user)) or can_manage(user)


def delegations_page(user):
    """Libraries the user names proxies for, with their delegations."""
    libraries = list(access.libraries_for(user, NAME_PROXY).filter(kind__in=VOTING_KINDS))
    delegations = list(
        Delegation.objects.filter(library__in=libraries)
        .select_related("person", "library", "named_by")
        .order_by("library__name", "-starts_on")
    )
    return libraries, delegations, active_delegations(user)
