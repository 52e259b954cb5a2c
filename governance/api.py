"""Read-only proposals and results for a member library's own systems and website
(/api/v1/governance/, scope ``proposals:read``).

A token reads the proposals its library's people see on the portal (everything past
draft), each with its rules, window and electorate in figures. Nothing about another
library leaves: no names, no ballots, no turnout list; the token's own library appears
only as "eligible, with this weight, has voted". Results are the published count (weight
and ballots per choice, quorum evidence, instant-runoff rounds) and exist only once the
vote is decided, so a secret ballot never puts a library beside a choice.
"""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from wagtail.rich_text import expand_db_html

from portal.api.api import require_scope
from portal.api.pagination import BoundedPage

from .models import Proposal
from .selectors.proposals import proposals_for_library
from .selectors.results import option_labels, weight_text

SCOPE = "proposals:read"
PLUGIN = "governance"

router = Router(tags=["governance"])


def _weight(value) -> str | None:
    """An exact weight as the portal prints it: whole, or at most three decimals."""
    return None if value is None else weight_text(value)


class OwnLibraryOut(Schema):
    eligible: bool
    weight: str | None  # its vote weight in this proposal, when eligible
    voted: bool


class ProposalOut(Schema):
    id: int
    title: str
    committee: str | None  # None: consortium-wide
    state: str
    kind: str
    secret: bool
    weighting: str
    opens_at: datetime | None
    closes_at: datetime | None
    closed_at: datetime | None
    outcome: str | None  # once decided: passed, failed, tie, no_quorum ...
    eligible_libraries: int
    turnout: int  # libraries that have voted (who, is not given)
    own_library: OwnLibraryOut

    @staticmethod
    def resolve_committee(obj):
        return obj.committee.name if obj.committee_id else None

    @staticmethod
    def resolve_outcome(obj):
        return obj.outcome if obj.is_final else None

    @staticmethod
    def resolve_closed_at(obj):
        return obj.closed_at if obj.is_final else None

    @staticmethod
    def resolve_eligible_libraries(obj):
        return obj.electorate_size

    @staticmethod
    def resolve_own_library(obj):
        return OwnLibraryOut(
            eligible=obj.own_weight is not None,
            weight=_weight(obj.own_weight),
            voted=obj.own_voted,
        )


class OptionOut(Schema):
    key: str
    label: str


class ExtensionOut(Schema):
    previous_closes_at: datetime
    closes_at: datetime
    reason: str
    at: datetime


class RulesOut(Schema):
    majority: str
    base: str
    abstentions: str
    quorum: str  # share of the eligible weight that must take part
    max_choices: int


class ElectorateOut(Schema):
    kind: str  # all, committee, library_type, flag
    library_type: str
    flag: str
    libraries: int
    weight: str | None  # eligible weight, frozen when voting opened


class ProposalDetailOut(ProposalOut):
    body: str  # HTML
    rules: RulesOut
    electorate: ElectorateOut
    options: list[OptionOut]
    extensions: list[ExtensionOut]

    @staticmethod
    def resolve_body(obj):
        return expand_db_html(obj.body)

    @staticmethod
    def resolve_rules(obj):
        return RulesOut(
            majority=obj.majority,
            base=obj.base,
            abstentions=obj.abstentions,
            quorum=_weight(obj.quorum),
            max_choices=obj.max_choices,
        )

    @staticmethod
    def resolve_electorate(obj):
        return ElectorateOut(
            kind=obj.electorate,
            library_type=obj.electorate_type,
            flag=obj.electorate_flag,
            libraries=obj.electorate_size,
            weight=_weight(obj.eligible_weight),
        )

    @staticmethod
    def resolve_options(obj):
        return list(obj.options.all())

    @staticmethod
    def resolve_extensions(obj):
        return list(obj.extensions.all())


class TotalOut(Schema):
    key: str
    label: str
    weight: str
    ballots: int


class RoundTotalOut(Schema):
    key: str
    label: str
    weight: str


class RoundOut(Schema):
    totals: list[RoundTotalOut]
    exhausted: str
    eliminated: list[str]


class ResultOut(Schema):
    proposal: int
    state: str
    outcome: str
    winner: str | None
    tied: list[str]
    closed_at: datetime | None
    turnout: int  # ballots counted, recusals included
    quorum_met: bool
    present: str  # weight taking part (recusals excluded)
    quorum_required: str
    eligible: str
    membership: str
    base: str  # weight the threshold is measured against
    required: str
    support: str
    totals: list[TotalOut]
    rounds: list[RoundOut]


def _visible(request, pk: int):
    token = require_scope(request, SCOPE, plugin=PLUGIN)
    return get_object_or_404(proposals_for_library(token.library), pk=pk)


@router.get(
    "/proposals/",
    response=list[ProposalOut],
    summary="Proposals the token's library sees, newest first",
)
@paginate(BoundedPage)
def proposals(request, state: Proposal.State | None = None):
    token = require_scope(request, SCOPE, plugin=PLUGIN)
    found = proposals_for_library(token.library).defer("body", "result")
    if state is not None:
        found = found.filter(state=state)
    return found


@router.get("/proposals/{pk}", response=ProposalDetailOut, summary="One proposal")
def proposal(request, pk: int):
    return _visible(request, pk)


def _totals(values: dict, counts: dict, labels: dict) -> list[TotalOut]:
    return [
        TotalOut(
            key=key,
            label=str(labels.get(key, key)),
            weight=_weight(value),
            ballots=counts.get(key, 0),
        )
        for key, value in values.items()
    ]


@router.get(
    "/proposals/{pk}/result",
    response=ResultOut,
    summary="The published count, once the vote is decided",
)
def result(request, pk: int):
    found = _visible(request, pk)
    if not found.is_final or not found.result:
        # The count is published in one step at close; nothing of it leaks before.
        raise HttpError(404, "The results are published when the vote closes.")
    data = found.result
    labels = option_labels(found)
    counts = data.get("counts", {})
    return ResultOut(
        proposal=found.pk,
        state=found.state,
        outcome=data["outcome"],
        winner=data.get("winner"),
        tied=data.get("tied", []),
        closed_at=found.closed_at,
        turnout=sum(counts.values()),
        quorum_met=data["quorum_met"],
        present=_weight(data["present"]),
        quorum_required=_weight(data["quorum_required"]),
        eligible=_weight(data["eligible"]),
        membership=_weight(data["membership"]),
        base=_weight(data["base_weight"]),
        required=_weight(data["required"]),
        support=_weight(data["support"]),
        totals=_totals(data.get("totals", {}), counts, labels),
        rounds=[
            RoundOut(
                totals=[
                    RoundTotalOut(key=key, label=str(labels.get(key, key)), weight=_weight(value))
                    for key, value in r["totals"].items()
                ],
                exhausted=_weight(r["exhausted"]),
                eliminated=r["eliminated"],
            )
            for r in data.get("rounds", [])
        ],
    )
