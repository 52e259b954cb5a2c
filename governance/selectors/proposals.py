"""Proposals as the pages read them: the list, one proposal's page, the register, the API's
view for a library, the open votes and the recent decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal.members.models import MemberLibrary

from ..models import Ballot, Eligibility, Proposal
from ..rules import FINAL_STATES, RECENT_DAYS, VotingAuthority, can_manage
from .voters import voter_libraries


def _count_of(model):
    rows = (
        model.objects.filter(proposal=OuterRef("pk"))
        .order_by()
        .values("proposal")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def proposal_list(user, *, include_drafts: bool | None = None):
    """Proposals a member may see: everything past draft; the office also sees drafts
    (``include_drafts``: whether ``user`` is the office, when the caller knows already)."""
    # One counting subquery each: counting both through joins multiplies ballots by
    # eligibilities (a quarter of a million rows per proposal at 500 libraries).
    proposals = Proposal.objects.select_related("committee").annotate(
        turnout=_count_of(Ballot),
        electorate_size=_count_of(Eligibility),
    )
    if include_drafts is None:
        include_drafts = can_manage(user)
    if not include_drafts:
        proposals = proposals.exclude(state=Proposal.State.DRAFT)
    return proposals.order_by("-closes_at", "-pk")


@dataclass
class MyLibrary:
    library: MemberLibrary
    authority: VotingAuthority
    weight: object
    ballot: Ballot | None = None


@dataclass
class ProposalPage:
    proposal: Proposal
    options: list
    mine: list[MyLibrary]
    turnout: list[Ballot]
    electorate_size: int
    extensions: list
    comments: list
    can_manage: bool
    choices_visible: bool = False
    result: dict | None = None
    extra: dict = field(default_factory=dict)


def proposal_page(user, proposal: Proposal) -> ProposalPage:
    """Everything the proposal page shows, in a fixed number of queries."""
    options = list(proposal.options.all())
    mine_by_id = voter_libraries(user)
    eligible = {
        e.library_id: e.weight
        for e in Eligibility.objects.filter(proposal=proposal, library_id__in=list(mine_by_id))
    }
    # Turnout is public; the choice of a ballot is shown here only to its own library, and
    # never for a secret proposal (Ballot.choice is empty there).
    turnout = list(
        Ballot.objects.filter(proposal=proposal)
        .select_related("library")
        .only("library__name", "library__code", "library_id", "cast_at", "authority", "weight")
        .order_by("library__name")
    )
    my_ballots = {
        b.library_id: b
        for b in Ballot.objects.filter(proposal=proposal, library_id__in=list(eligible))
    }
    mine = [
        MyLibrary(lib, auth, eligible[pk], my_ballots.get(pk))
        for pk, (lib, auth) in sorted(mine_by_id.items(), key=lambda kv: kv[1][0].name)
        if pk in eligible
    ]
    return ProposalPage(
        proposal=proposal,
        options=options,
        mine=mine,
        turnout=turnout,
        electorate_size=Eligibility.objects.filter(proposal=proposal).count(),
        extensions=list(proposal.extensions.all()),
        comments=list(proposal.comments.select_related("author", "library")),
        can_manage=can_manage(user),
    )


def register(committee: str = "", outcome: str = "", year: str = ""):
    """The resolution register: every closed proposal, newest first."""
    proposals = Proposal.objects.filter(
        state__in=[Proposal.State.DECIDED, Proposal.State.FAILED]
    ).select_related("committee")
    if committee:
        proposals = proposals.filter(committee__slug=committee)
    if outcome:
        proposals = proposals.filter(outcome=outcome)
    if year.isdigit():
        proposals = proposals.filter(closed_at__year=int(year))
    return proposals.order_by("-closed_at", "-pk")


def proposals_for_library(library: MemberLibrary):
    """Proposals as a member library reads them through the integration API: the same
    ones its people see on the portal (every proposal past draft, as ``proposal_list``),
    newest first, with the turnout, the electorate's size and the library's own part
    (its weight if eligible, whether it voted). One query, however many are read."""
    ballots = Ballot.objects.filter(proposal=OuterRef("pk"))
    eligible = Eligibility.objects.filter(proposal=OuterRef("pk"))
    return (
        Proposal.objects.exclude(state=Proposal.State.DRAFT)
        .select_related("committee")
        .annotate(
            turnout=_count_of(Ballot),
            electorate_size=_count_of(Eligibility),
            own_weight=Subquery(eligible.filter(library=library).values("weight")[:1]),
            own_voted=Exists(ballots.filter(library=library)),
        )
        .order_by("-closes_at", "-pk")
    )


@dataclass
class OpenVote:
    proposal: Proposal
    library: MemberLibrary
    voted: bool


def open_votes(user) -> list[OpenVote]:
    """Open proposals for each library the user votes for, deadlines first: four queries."""
    libraries = voter_libraries(user)
    if not libraries:
        return []
    now = timezone.now()
    rows = (
        Eligibility.objects.filter(
            library_id__in=list(libraries),
            proposal__state=Proposal.State.OPEN,
            proposal__closes_at__gt=now,
        )
        .select_related("proposal")
        .order_by("proposal__closes_at", "proposal_id")
    )
    rows = list(rows)
    voted = set(
        Ballot.objects.filter(
            proposal_id__in={r.proposal_id for r in rows}, library_id__in=list(libraries)
        ).values_list("proposal_id", "library_id")
    )
    return [
        OpenVote(r.proposal, libraries[r.library_id][0], (r.proposal_id, r.library_id) in voted)
        for r in rows
    ]


def recent_decisions(limit: int = 5, days: int = RECENT_DAYS) -> list[Proposal]:
    """Proposals decided in the last ``days``, newest first: one query. Decisions are
    public to members (the register), so this is the same for everyone who may look."""
    since = timezone.now() - timedelta(days=days)
    return list(
        Proposal.objects.filter(state__in=FINAL_STATES, closed_at__gte=since)
        .select_related("committee")
        .order_by("-closed_at", "-pk")[:limit]
    )
