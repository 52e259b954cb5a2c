"""The counting rules, by example and by property."""

from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from governance import tally as t

weights = st.fractions(min_value=0, max_value=50, max_denominator=8)
yes_no_choices = st.sampled_from([t.YES, t.NO, t.ABSTAIN, t.RECUSE])
yes_no_ballots = st.lists(st.builds(t.Ballot, weights, yes_no_choices), max_size=30)
OPTIONS = ("a", "b", "c", "d")
rankings = st.permutations(OPTIONS).flatmap(
    lambda p: st.integers(min_value=1, max_value=len(p)).map(lambda n: tuple(p[:n]))
)
ranked_ballots = st.lists(
    st.builds(t.Ballot, st.integers(min_value=1, max_value=5).map(Fraction), rankings),
    min_size=1,
    max_size=25,
)
rules = st.builds(
    t.Rule,
    majority=st.sampled_from([t.SIMPLE, t.TWO_THIRDS]),
    base=st.sampled_from(t.BASES),
    abstentions=st.sampled_from(t.ABSTENTION_RULES),
    quorum=st.fractions(min_value=0, max_value=1, max_denominator=10),
)


def eligible_of(ballots, extra=Fraction(0)):
    return sum((b.weight for b in ballots), Fraction(0)) + extra


# --- examples -------------------------------------------------------------------------


def test_simple_majority_of_votes_cast_ignores_abstentions():
    ballots = [t.Ballot.of(1, t.YES), t.Ballot.of(1, t.YES), t.Ballot.of(1, t.NO)]
    ballots += [t.Ballot.of(1, t.ABSTAIN)] * 3
    result = t.tally(t.Rule(), ballots, eligible=6)
    assert result.outcome == t.PASSED
    assert result.base_weight == 3


def test_abstentions_in_base_act_like_no():
    ballots = [t.Ballot.of(1, t.YES)] * 2 + [t.Ballot.of(1, t.NO)] + [t.Ballot.of(1, t.ABSTAIN)] * 2
    rule = t.Rule(abstentions=t.ABSTAIN_IN_BASE)
    assert t.tally(rule, ballots, eligible=5).outcome == t.FAILED


def test_two_thirds_is_at_least_two_thirds():
    ballots = [t.Ballot.of(1, t.YES)] * 2 + [t.Ballot.of(1, t.NO)]
    assert t.tally(t.Rule(majority=t.TWO_THIRDS), ballots, eligible=3).outcome == t.PASSED
    ballots.append(t.Ballot.of(1, t.NO))
    assert t.tally(t.Rule(majority=t.TWO_THIRDS), ballots, eligible=4).outcome == t.TIE


def test_majority_of_eligible_and_of_membership():
    ballots = [t.Ballot.of(3, t.YES), t.Ballot.of(1, t.NO)]
    assert t.tally(t.Rule(base=t.OF_ELIGIBLE), ballots, eligible=6).outcome == t.FAILED
    assert t.tally(t.Rule(base=t.OF_ELIGIBLE), ballots, eligible=5).outcome == t.PASSED
    result = t.tally(t.Rule(base=t.OF_MEMBERSHIP), ballots, eligible=5, membership=7)
    assert result.outcome == t.FAILED and result.base_weight == 7


def test_weights_decide_not_heads():
    ballots = [t.Ballot.of("2.5", t.YES), t.Ballot.of(1, t.NO), t.Ballot.of(1, t.NO)]
    assert t.tally(t.Rule(), ballots, eligible="4.5").outcome == t.PASSED


def test_tie_is_reported_as_tie():
    ballots = [t.Ballot.of(2, t.YES), t.Ballot.of(2, t.NO)]
    result = t.tally(t.Rule(), ballots, eligible=4)
    assert result.outcome == t.TIE and result.tied == (t.YES, t.NO)


def test_quorum_counts_abstentions_but_never_recusals():
    rule = t.Rule(quorum=Fraction(1, 2))
    ballots = [t.Ballot.of(1, t.YES), t.Ballot.of(1, t.ABSTAIN)]
    assert t.tally(rule, ballots, eligible=4).quorum_met
    ballots = [t.Ballot.of(1, t.YES), t.Ballot.of(1, t.RECUSE)]
    result = t.tally(rule, ballots, eligible=4)
    assert not result.quorum_met and result.outcome == t.FAILED


def test_choose_one_plurality_and_majority():
    rule = t.Rule(kind=t.CHOOSE_ONE, options=("a", "b", "c"), majority=t.PLURALITY)
    ballots = [t.Ballot.of(1, "a"), t.Ballot.of(1, "a"), t.Ballot.of(1, "b"), t.Ballot.of(1, "c")]
    ballots.append(t.Ballot.of(1, "c"))
    ballots.append(t.Ballot.of(1, "a"))
    assert t.tally(rule, ballots, eligible=6).winner == "a"
    majority = t.Rule(kind=t.CHOOSE_ONE, options=("a", "b", "c"))
    assert t.tally(majority, ballots, eligible=6).outcome == t.FAILED  # 3 of 6 is not > half


def test_approval_limits_choices():
    rule = t.Rule(kind=t.APPROVAL, options=("a", "b", "c"), max_choices=2, majority=t.PLURALITY)
    with pytest.raises(t.TallyError):
        t.tally(rule, [t.Ballot.of(1, ["a", "b", "c"])], eligible=1)
    result = t.tally(rule, [t.Ballot.of(1, ["a", "b"]), t.Ballot.of(1, ["b"])], eligible=2)
    assert result.winner == "b" and result.totals["a"] == 1


def test_instant_runoff_transfers():
    rule = t.Rule(kind=t.RANKED, options=("a", "b", "c"))
    ballots = (
        [t.Ballot.of(1, ("a", "b"))] * 4
        + [t.Ballot.of(1, ("b", "a"))] * 3
        + [t.Ballot.of(1, ("c", "b"))] * 2
    )
    result = t.tally(rule, ballots, eligible=9)
    assert len(result.rounds) == 2
    assert result.rounds[0].eliminated == ("c",)
    assert result.winner == "b" and result.rounds[1].totals == {"a": 4, "b": 5}


def test_invalid_choices_are_refused():
    with pytest.raises(t.TallyError):
        t.tally(t.Rule(), [t.Ballot.of(1, "maybe")], eligible=1)
    with pytest.raises(t.TallyError):
        t.tally(t.Rule(kind=t.RANKED, options=("a", "b")), [t.Ballot.of(1, ("a", "a"))], 1)
    with pytest.raises(t.TallyError):
        t.Rule(kind=t.RANKED, majority=t.PLURALITY, options=("a", "b"))
    with pytest.raises(t.TallyError):
        t.as_fraction(0.5)


def test_voter_weight():
    assert t.voter_weight(t.ONE_EACH, "7.5") == 1
    assert t.voter_weight(t.WEIGHTED, "7.5") == Fraction(15, 2)


# --- properties -----------------------------------------------------------------------


@given(rules, yes_no_ballots, weights)
def test_weights_sum(rule, ballots, absent):
    result = t.tally(rule, ballots, eligible=eligible_of(ballots, absent))
    assert sum(result.totals.values()) == sum(b.weight for b in ballots)
    assert sum(result.counts.values()) == len(ballots)
    assert result.present == sum(b.weight for b in ballots if b.choice != t.RECUSE)


@given(rules, yes_no_ballots, weights)
def test_recusals_never_count_toward_quorum(rule, ballots, absent):
    eligible = eligible_of(ballots, absent)
    without = [b for b in ballots if b.choice != t.RECUSE]
    a = t.tally(rule, ballots, eligible=eligible)
    b = t.tally(rule, without, eligible=eligible)
    assert a.present == b.present and a.quorum_met == b.quorum_met
    assert a.outcome == b.outcome


@given(rules, yes_no_ballots, weights, st.integers(min_value=0, max_value=29))
def test_majority_is_monotonic(rule, ballots, absent, index):
    """Turning a ballot into "yes" never turns a pass into a fail."""
    assume(ballots)
    eligible = eligible_of(ballots, absent)
    index %= len(ballots)
    before = t.tally(rule, ballots, eligible=eligible)
    changed = list(ballots)
    changed[index] = t.Ballot(ballots[index].weight, t.YES)
    after = t.tally(rule, changed, eligible=eligible)
    if before.outcome == t.PASSED:
        assert after.outcome == t.PASSED
    assert after.totals[t.YES] >= before.totals[t.YES]


@given(rules, yes_no_ballots, weights)
def test_passing_means_threshold_and_quorum(rule, ballots, absent):
    result = t.tally(rule, ballots, eligible=eligible_of(ballots, absent))
    if result.outcome == t.PASSED:
        assert result.quorum_met
        assert result.support > result.totals[t.NO] or rule.base != t.OF_CAST
        if rule.majority == t.TWO_THIRDS:
            assert 3 * result.support >= 2 * result.base_weight
        else:
            assert 2 * result.support > result.base_weight


@given(rules, yes_no_ballots)
def test_tie_detection(rule, ballots):
    """Every "yes" mirrored by an equal "no": an even split, reported as a tie."""
    flipped = [t.Ballot(b.weight, t.YES if b.choice == t.YES else t.NO) for b in ballots]
    both = [*flipped, *[t.Ballot(b.weight, t.NO) for b in flipped if b.choice == t.YES]]
    both += [t.Ballot(b.weight, t.YES) for b in flipped if b.choice == t.NO]
    assume(any(b.weight for b in both))
    rule = t.Rule(majority=rule.majority, base=t.OF_CAST, abstentions=rule.abstentions)
    result = t.tally(rule, both, eligible=eligible_of(both))
    assert result.totals[t.YES] == result.totals[t.NO]
    assert result.outcome == t.TIE


@given(yes_no_ballots, weights)
def test_stricter_rules_pass_less(ballots, absent):
    eligible = eligible_of(ballots, absent)
    two_thirds = t.tally(t.Rule(majority=t.TWO_THIRDS), ballots, eligible=eligible)
    simple = t.tally(t.Rule(), ballots, eligible=eligible)
    if two_thirds.outcome == t.PASSED:
        assert simple.outcome == t.PASSED
    of_eligible = t.tally(t.Rule(base=t.OF_ELIGIBLE), ballots, eligible=eligible)
    if of_eligible.outcome == t.PASSED:
        assert simple.outcome == t.PASSED


@given(yes_no_ballots, weights)
def test_order_of_ballots_does_not_matter(ballots, absent):
    eligible = eligible_of(ballots, absent)
    assert t.tally(t.Rule(), ballots, eligible) == t.tally(t.Rule(), ballots[::-1], eligible)


@settings(max_examples=200)
@given(ranked_ballots)
def test_instant_runoff_eliminates_until_majority(ballots):
    rule = t.Rule(kind=t.RANKED, options=OPTIONS)
    result = t.tally(rule, ballots, eligible=eligible_of(ballots))
    total = sum(b.weight for b in ballots)
    for number, rnd in enumerate(result.rounds):
        live = sum(rnd.totals.values())
        assert live + rnd.exhausted == total
        last = number == len(result.rounds) - 1
        if not last:
            # Nobody had a majority, someone weakest left, and the field shrank.
            assert max(rnd.totals.values()) * 2 <= live
            assert rnd.eliminated
            low = min(rnd.totals.values())
            assert all(rnd.totals[k] == low for k in rnd.eliminated)
            assert set(result.rounds[number + 1].totals) == set(rnd.totals) - set(rnd.eliminated)
    final = result.rounds[-1]
    if result.outcome == t.PASSED:
        assert final.totals[result.winner] * 2 > sum(final.totals.values())
    else:
        assert result.outcome == t.TIE and len(result.tied) >= 2


@given(ranked_ballots)
def test_majority_first_choice_wins_at_once(ballots):
    rule = t.Rule(kind=t.RANKED, options=OPTIONS)
    first = {}
    for b in ballots:
        first[b.choice[0]] = first.get(b.choice[0], 0) + b.weight
    leader, top = max(first.items(), key=lambda kv: kv[1])
    result = t.tally(rule, ballots, eligible=eligible_of(ballots))
    if top * 2 > sum(first.values()):
        assert result.winner == leader and len(result.rounds) == 1


@given(
    st.lists(
        st.builds(
            t.Ballot,
            weights,
            st.one_of(st.sampled_from(OPTIONS), st.just(t.ABSTAIN), st.just(t.RECUSE)),
        ),
        max_size=20,
    )
)
def test_choose_one_winner_has_most_support(ballots):
    rule = t.Rule(kind=t.CHOOSE_ONE, options=OPTIONS, majority=t.PLURALITY)
    result = t.tally(rule, ballots, eligible=eligible_of(ballots))
    options = {k: result.totals[k] for k in OPTIONS}
    if result.outcome == t.PASSED:
        assert all(options[result.winner] > v for k, v in options.items() if k != result.winner)
    if result.outcome == t.TIE:
        assert len({options[k] for k in result.tied}) == 1 and len(result.tied) > 1


@given(rules, yes_no_ballots, weights)
def test_result_serialises_exactly(rule, ballots, absent):
    data = t.tally(rule, ballots, eligible=eligible_of(ballots, absent)).as_dict()
    assert sum(Fraction(v) for v in data["totals"].values()) == sum(b.weight for b in ballots)
