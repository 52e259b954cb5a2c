"""Who votes: the member libraries a proposal's electorate rule selects, and under which
authority (director, alternate, proxy) a person votes for a library."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from portal import access
from portal.members.models import MemberLibrary

from ..models import Authority, Delegation, Proposal, voting_members
from ..rules import CAST, VotingAuthority


def voting_authority(user, library: MemberLibrary, day: date | None = None):
    """Under which authority ``user`` may vote for ``library`` today, or None.

    A director holds ``governance.cast_ballot`` through their role; an alternate or a
    proxy holds a :class:`Delegation` that covers the day and was not revoked.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if library.kind not in (MemberLibrary.Kind.SYSTEM, MemberLibrary.Kind.LIBRARY):
        return None
    if access.can(user, CAST, library):
        return VotingAuthority(Authority.DIRECTOR)
    day = day or timezone.localdate()
    for delegation in Delegation.objects.filter(person=user, library=library, revoked_at=None):
        if delegation.covers(day):
            return VotingAuthority(delegation.kind, delegation)
    return None


def electorate(proposal: Proposal):
    """The voting members a proposal's electorate rule selects."""
    libraries = voting_members()
    if proposal.electorate == Proposal.Electorate.COMMITTEE:
        libraries = libraries.filter(committee_memberships__committee_id=proposal.committee_id)
    elif proposal.electorate == Proposal.Electorate.LIBRARY_TYPE:
        libraries = libraries.filter(library_type=proposal.electorate_type)
    elif proposal.electorate == Proposal.Electorate.FLAG:
        flag = Proposal.Flag(proposal.electorate_flag)
        libraries = libraries.filter(**{flag.value: True})
    return libraries
