"""Counting votes: thresholds, quorum, abstentions, ties and instant-runoff rounds.

Pure Python with exact arithmetic (``fractions.Fraction``); no Django, no database. The
services feed it ballots (weight + choice) and the electorate's weights; ``verify_proposal``
feeds it the same rows again, so the count can always be recomputed.

Choices, per ballot kind:

* ``yes_no``: ``"yes"``, ``"no"`` or ``ABSTAIN``;
* ``choose_one``: one option key or ``ABSTAIN``;
* ``approval``: a collection of up to ``max_choices`` option keys (empty = abstain);
* ``ranked``: a sequence of option keys, most preferred first (empty = abstain).

Any kind also takes ``RECUSE``: a recused library is present in the record but counts
neither toward quorum nor in any base.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

YES = "yes"
NO = "no"
ABSTAIN = "abstain"
RECUSE = "recuse"

# Ballot kinds.
YES_NO = "yes_no"
CHOOSE_ONE = "choose_one"
APPROVAL = "approval"
RANKED = "ranked"
KINDS = (YES_NO, CHOOSE_ONE, APPROVAL, RANKED)

# Majorities.
SIMPLE = "simple"  # more than half
TWO_THIRDS = "two_thirds"  # at least two thirds
PLURALITY = "plurality"  # most support wins (choose-one and approval only)
MAJORITIES = (SIMPLE, TWO_THIRDS, PLURALITY)

# What the majority is a share of.
OF_CAST = "cast"  # the votes cast
OF_ELIGIBLE = "eligible"  # the weight of the proposal's electorate
OF_MEMBERSHIP = "membership"  # the weight of the entire membership
BASES = (OF_CAST, OF_ELIGIBLE, OF_MEMBERSHIP)

# Robert's Rules: an abstention is not a vote, so it is left out of "votes cast". Some
# bylaws instead require a majority of those present, where abstaining works like "no".
ABSTAIN_EXCLUDED = "excluded"
ABSTAIN_IN_BASE = "in_base"
ABSTENTION_RULES = (ABSTAIN_EXCLUDED, ABSTAIN_IN_BASE)

# Outcomes.
PASSED = "passed"
FAILED = "failed"
TIE = "tie"

# Weighting bases.
ONE_EACH = "one_each"
WEIGHTED = "weighted"


class TallyError(ValueError):
    """A ballot or rule the count cannot accept."""


def as_fraction(value: Any) -> Fraction:
    """An exact weight from an int, Decimal, Fraction or numeric string."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        raise TallyError("weights must be exact (int, Decimal, Fraction), not float")
    return Fraction(Decimal(str(value))) if not isinstance(value, int) else Fraction(value)


def voter_weight(basis: str, vote_weight: Any) -> Fraction:
    """The weight a library carries under a weighting basis."""
    if basis == ONE_EACH:
        return Fraction(1)
    if basis == WEIGHTED:
        weight = as_fraction(vote_weight)
        if weight < 0:
            raise TallyError("a vote weight cannot be negative")
        return weight
    raise TallyError(f"unknown weighting basis {basis!r}")


@dataclass(frozen=True)
class Ballot:
    weight: Fraction
    choice: Any

    @classmethod
    def of(cls, weight: Any, choice: Any) -> Ballot:
        return cls(as_fraction(weight), choice)


@dataclass(frozen=True)
class Rule:
    kind: str = YES_NO
    majority: str = SIMPLE
    base: str = OF_CAST
    abstentions: str = ABSTAIN_EXCLUDED
    # Share of the eligible weight that must be present (not recused); 0 means none.
    quorum: Fraction = Fraction(0)
    options: tuple[str, ...] = ()
    max_choices: int = 1

    def __post_init__(self):
        if self.kind not in KINDS:
            raise TallyError(f"unknown ballot kind {self.kind!r}")
        if self.majority not in MAJORITIES:
            raise TallyError(f"unknown majority {self.majority!r}")
        if self.majority == PLURALITY and self.kind not in (CHOOSE_ONE, APPROVAL):
            raise TallyError("plurality applies to choose-one and approval ballots only")
        if self.base not in BASES:
            raise TallyError(f"unknown base {self.base!r}")
        if self.abstentions not in ABSTENTION_RULES:
            raise TallyError(f"unknown abstention rule {self.abstentions!r}")
        if not 0 <= as_fraction(self.quorum) <= 1:
            raise TallyError("quorum is a share between 0 and 1")
        if self.kind != YES_NO and len(self.options) < 2:
            raise TallyError("this ballot kind needs at least two options")
        if len(set(self.options)) != len(self.options):
            raise TallyError("option keys must be distinct")
        if self.kind == APPROVAL and not 1 <= self.max_choices <= len(self.options):
            raise TallyError("approval allows between 1 and the number of options")


@dataclass(frozen=True)
class Round:
    """One instant-runoff round: continuing totals and who leaves after it."""

    totals: dict[str, Fraction]
    exhausted: Fraction
    eliminated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    outcome: str
    quorum_met: bool
    # Weight per choice: yes/no/abstain/recuse, or per option (+ abstain/recuse).
    totals: dict[str, Fraction]
    counts: dict[str, int]
    present: Fraction
    quorum_required: Fraction
    eligible: Fraction
    membership: Fraction
    # The weight the threshold is measured against, and the support needed to pass.
    base_weight: Fraction
    required: Fraction
    support: Fraction
    winner: str | None = None
    tied: tuple[str, ...] = ()
    rounds: tuple[Round, ...] = field(default=())

    def as_dict(self) -> dict:
        """A JSON-ready copy; fractions become "p/q" strings so nothing is rounded."""

        def f(x: Fraction) -> str:
            return f"{x.numerator}/{x.denominator}" if x.denominator != 1 else str(x.numerator)

        return {
            "outcome": self.outcome,
            "quorum_met": self.quorum_met,
            "totals": {k: f(v) for k, v in self.totals.items()},
            "counts": dict(self.counts),
            "present": f(self.present),
            "quorum_required": f(self.quorum_required),
            "eligible": f(self.eligible),
            "membership": f(self.membership),
            "base_weight": f(self.base_weight),
            "required": f(self.required),
            "support": f(self.support),
            "winner": self.winner,
            "tied": list(self.tied),
            "rounds": [
                {
                    "totals": {k: f(v) for k, v in r.totals.items()},
                    "exhausted": f(r.exhausted),
                    "eliminated": list(r.eliminated),
                }
                for r in self.rounds
            ],
        }


def _normalise(rule: Rule, choice: Any) -> Any:
    """Validate one choice; returns ABSTAIN, RECUSE, or the kind's canonical form."""
    if choice in (ABSTAIN, RECUSE):
        return choice
    if rule.kind == YES_NO:
        if choice not in (YES, NO):
            raise TallyError(f"not a yes/no choice: {choice!r}")
        return choice
    if rule.kind == CHOOSE_ONE:
        if choice not in rule.options:
            raise TallyError(f"not an option: {choice!r}")
        return choice
    if isinstance(choice, str) or not isinstance(choice, Iterable):
        raise TallyError(f"expected a list of options: {choice!r}")
    picks = tuple(choice)
    if len(set(picks)) != len(picks) or any(p not in rule.options for p in picks):
        raise TallyError(f"options must be distinct and known: {choice!r}")
    if not picks:
        return ABSTAIN
    if rule.kind == APPROVAL:
        if len(picks) > rule.max_choices:
            raise TallyError(f"at most {rule.max_choices} options may be approved")
        return frozenset(picks)
    return picks


def validate_choice(rule: Rule, choice: Any) -> Any:
    """Raise :class:`TallyError` unless ``choice`` is valid under ``rule``."""
    return _normalise(rule, choice)


def _threshold(rule: Rule, base_weight: Fraction) -> Fraction:
    if rule.majority == TWO_THIRDS:
        return base_weight * 2 / 3
    return base_weight / 2


def _meets(rule: Rule, support: Fraction, base_weight: Fraction) -> bool:
    # Simple majority: strictly more than half. Two-thirds: at least two thirds.
    if base_weight <= 0:
        return False
    if rule.majority == TWO_THIRDS:
        return support * 3 >= base_weight * 2
    return support * 2 > base_weight


@dataclass(frozen=True)
class Sums:
    """What a count needs of the ballots, for every kind but ranked: per choice key (yes,
    no or an option, and abstain, recuse) the weight and the number of ballots, and the
    weight of the ballots that voted (neither abstained nor recused). A sealed ballot box
    yields exactly these sums, decrypted, and never a single ballot."""

    totals: dict[str, Fraction]
    counts: dict[str, int]
    cast: Fraction


def choice_keys(rule: Rule) -> tuple[str, ...]:
    """The keys a count reports: yes and no or the options, then abstain and recuse."""
    return ((YES, NO) if rule.kind == YES_NO else rule.options) + (ABSTAIN, RECUSE)


def summarise(rule: Rule, ballots: Iterable[Ballot]) -> Sums:
    """The sums of valid ``ballots`` (any kind but ranked)."""
    if rule.kind == RANKED:
        raise TallyError("ranked ballots are counted whole, not as sums")
    totals = dict.fromkeys(choice_keys(rule), Fraction(0))
    counts = dict.fromkeys(choice_keys(rule), 0)
    cast = Fraction(0)
    for b in ballots:
        weight, choice = as_fraction(b.weight), _normalise(rule, b.choice)
        if weight < 0:
            raise TallyError("a ballot weight cannot be negative")
        if choice in (ABSTAIN, RECUSE):
            picks = (choice,)
        else:
            picks = tuple(choice) if rule.kind == APPROVAL else (choice,)
            cast += weight
        for pick in picks:
            totals[pick] += weight
            counts[pick] += 1
    return Sums(totals=totals, counts=counts, cast=cast)


def tally(
    rule: Rule,
    ballots: Iterable[Ballot],
    eligible: Any,
    membership: Any | None = None,
) -> Result:
    """Count ``ballots`` under ``rule``.

    ``eligible`` is the total weight of the proposal's electorate and ``membership`` that
    of the entire voting membership (defaults to ``eligible``).
    """
    if rule.kind != RANKED:
        return decide(rule, summarise(rule, ballots), eligible, membership)
    eligible = as_fraction(eligible)
    membership = eligible if membership is None else as_fraction(membership)
    ballots = [Ballot(as_fraction(b.weight), _normalise(rule, b.choice)) for b in ballots]
    if any(b.weight < 0 for b in ballots):
        raise TallyError("a ballot weight cannot be negative")
    recused = sum((b.weight for b in ballots if b.choice == RECUSE), Fraction(0))
    abstained = sum((b.weight for b in ballots if b.choice == ABSTAIN), Fraction(0))
    voting = [b for b in ballots if b.choice not in (ABSTAIN, RECUSE)]
    cast = sum((b.weight for b in voting), Fraction(0))
    common = _common(rule, cast, abstained, eligible, membership)
    counts = {
        ABSTAIN: sum(1 for b in ballots if b.choice == ABSTAIN),
        RECUSE: sum(1 for b in ballots if b.choice == RECUSE),
    }
    return _instant_runoff(rule, voting, abstained, recused, counts, common)


def _common(rule: Rule, cast: Fraction, abstained: Fraction, eligible, membership) -> dict:
    present = cast + abstained  # recused libraries are not present
    quorum_required = eligible * as_fraction(rule.quorum)
    if rule.base == OF_ELIGIBLE:
        base_weight = eligible
    elif rule.base == OF_MEMBERSHIP:
        base_weight = membership
    else:
        base_weight = cast + (abstained if rule.abstentions == ABSTAIN_IN_BASE else 0)
    return {
        "quorum_met": present >= quorum_required,
        "present": present,
        "quorum_required": quorum_required,
        "eligible": eligible,
        "membership": membership,
        "base_weight": base_weight,
    }


def decide(rule: Rule, sums: Sums, eligible: Any, membership: Any | None = None) -> Result:
    """The result of a count from its sums (any kind but ranked)."""
    eligible = as_fraction(eligible)
    membership = eligible if membership is None else as_fraction(membership)
    abstained, recused = sums.totals[ABSTAIN], sums.totals[RECUSE]
    cast = sums.cast
    common = _common(rule, cast, abstained, eligible, membership)
    base_weight, quorum_met = common["base_weight"], common["quorum_met"]
    counts = {ABSTAIN: sums.counts[ABSTAIN], RECUSE: sums.counts[RECUSE]}

    if rule.kind == YES_NO:
        yes, no = sums.totals[YES], sums.totals[NO]
        totals = {YES: yes, NO: no, ABSTAIN: abstained, RECUSE: recused}
        counts = {YES: sums.counts[YES], NO: sums.counts[NO], **counts}
        if not quorum_met:
            outcome = FAILED
        elif _meets(rule, yes, base_weight):
            outcome = PASSED
        elif yes == no and (yes > 0 or rule.majority == SIMPLE) and cast > 0:
            # An even split is reported as such; under the rules it does not carry.
            outcome = TIE
        else:
            outcome = FAILED
        return Result(
            outcome=outcome,
            totals=totals,
            counts=counts,
            required=_threshold(rule, base_weight),
            support=yes,
            winner=YES if outcome == PASSED else None,
            tied=(YES, NO) if outcome == TIE else (),
            **common,
        )

    totals = {k: sums.totals[k] for k in rule.options}
    option_counts = {k: sums.counts[k] for k in rule.options}
    top = max(totals.values())
    leaders = tuple(k for k in rule.options if totals[k] == top)
    if rule.majority == PLURALITY:
        required = Fraction(0)
        carries = top > 0
    else:
        required = _threshold(rule, base_weight)
        carries = _meets(rule, top, base_weight)
    if not quorum_met or top == 0:
        outcome, winner, tied = FAILED, None, ()
    elif len(leaders) > 1:
        outcome, winner, tied = (TIE if carries or rule.majority == PLURALITY else FAILED), None, ()
        tied = leaders if outcome == TIE else ()
    elif carries:
        outcome, winner, tied = PASSED, leaders[0], ()
    else:
        outcome, winner, tied = FAILED, None, ()
    return Result(
        outcome=outcome,
        totals={**totals, ABSTAIN: abstained, RECUSE: recused},
        counts={**option_counts, **counts},
        required=required,
        support=top,
        winner=winner,
        tied=tied,
        **common,
    )


def _instant_runoff(
    rule: Rule,
    voting: Sequence[Ballot],
    abstained: Fraction,
    recused: Fraction,
    counts: dict[str, int],
    common: dict,
) -> Result:
    """Eliminate the weakest option until one holds a majority of continuing weight.

    Options tied for last are eliminated together when their combined weight is below the
    next option's (the result cannot differ); otherwise the tie is broken by the earlier
    rounds, latest first; if it still stands, the count stops and reports a tie.
    """
    continuing = list(rule.options)
    rounds: list[Round] = []
    history: list[dict[str, Fraction]] = []
    first_counts = dict.fromkeys(rule.options, 0)
    for b in voting:
        first_counts[b.choice[0]] += 1
    while True:
        totals = dict.fromkeys(continuing, Fraction(0))
        exhausted = Fraction(0)
        for b in voting:
            pick = next((p for p in b.choice if p in totals), None)
            if pick is None:
                exhausted += b.weight
            else:
                totals[pick] += b.weight
        live = sum(totals.values(), Fraction(0))
        top = max(totals.values())
        leaders = [k for k in continuing if totals[k] == top]
        outcome = winner = None
        tied: tuple[str, ...] = ()
        eliminated: tuple[str, ...] = ()
        if not common["quorum_met"] or live == 0:
            outcome = FAILED
        elif top * 2 > live:
            outcome, winner = PASSED, leaders[0]
        elif len(leaders) == len(continuing):
            outcome, tied = TIE, tuple(leaders)
        else:
            eliminated = _to_eliminate(continuing, totals, history)
            if not eliminated:
                low = min(totals.values())
                outcome, tied = TIE, tuple(k for k in continuing if totals[k] == low)
        rounds.append(Round(totals=totals, exhausted=exhausted, eliminated=eliminated))
        history.append(totals)
        if outcome is not None:
            final = rounds[-1].totals
            return Result(
                outcome=outcome,
                totals={
                    **{k: final.get(k, Fraction(0)) for k in rule.options},
                    ABSTAIN: abstained,
                    RECUSE: recused,
                },
                counts={**first_counts, **counts},
                required=live / 2,
                support=top,
                winner=winner,
                tied=tied,
                rounds=tuple(rounds),
                **common,
            )
        continuing = [k for k in continuing if k not in eliminated]


def _to_eliminate(
    continuing: list[str], totals: dict[str, Fraction], history: list[dict[str, Fraction]]
) -> tuple[str, ...]:
    low = min(totals.values())
    lowest = [k for k in continuing if totals[k] == low]
    if len(lowest) == 1:
        return (lowest[0],)
    above = [v for v in totals.values() if v > low]
    if above and low * len(lowest) < min(above):
        return tuple(lowest)
    for earlier in reversed(history):
        floor = min(earlier[k] for k in lowest)
        lowest = [k for k in lowest if earlier[k] == floor]
        if len(lowest) == 1:
            return (lowest[0],)
    return ()
