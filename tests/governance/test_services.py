"""The voting rules, as the services apply them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance import tally
from governance.models import (
    Ballot,
    BallotEvent,
    Committee,
    CommitteeMembership,
    Delegation,
    Eligibility,
    Proposal,
    SecretChoice,
)
from governance.services.closing import close_proposal
from governance.services.delegations import do_name_delegate, do_revoke_delegate
from governance.services.errors import (
    GovernanceError,
    InvalidChoice,
    NotAllowed,
    ReceiptRequired,
    VotingClosed,
)
from governance.services.proposals import do_extend_window, do_open_proposal, do_withdraw_proposal
from governance.services.receipts import fingerprint
from portal.audit.models import AuditEntry
from portal.members.models import MemberLibrary

from .conftest import expire


def close(proposal):
    expire(proposal)
    return close_proposal(proposal.pk)


# --- 3. the library is the voter --------------------------------------------------------


def test_one_ballot_per_library_changes_are_audited(world):
    proposal = world.proposal()
    world.vote(0, proposal, "yes")
    world.vote(0, proposal, "no")
    assert Ballot.objects.filter(proposal=proposal).count() == 1
    ballot = Ballot.objects.get(proposal=proposal)
    assert ballot.choice == "no" and ballot.changes == 1
    assert ballot.cast_by == world.directors[0] and ballot.authority == "director"
    assert list(BallotEvent.objects.values_list("action", "choice")) == [
        ("cast", "yes"),
        ("changed", "no"),
    ]
    actions = list(
        AuditEntry.objects.filter(action__startswith="governance.ballot").values_list(
            "action", flat=True
        )
    )
    assert actions == ["governance.ballot.cast", "governance.ballot.changed"]


def test_database_refuses_a_second_ballot(world):
    proposal = world.proposal()
    world.vote(0, proposal, "yes")
    ballot = Ballot.objects.get()
    ballot.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        ballot.save()


def test_director_of_a_cannot_vote_for_b(world):
    proposal = world.proposal()
    with pytest.raises(NotAllowed):
        world.vote(1, proposal, "yes", user=world.directors[0])
    assert not Ballot.objects.exists()


def test_staff_and_office_cannot_vote(world):
    proposal = world.proposal()
    with pytest.raises(NotAllowed):
        world.vote(0, proposal, "yes", user=world.staff)
    with pytest.raises(NotAllowed):
        world.vote(0, proposal, "yes", user=world.admin)


def test_proxy_votes_within_its_dates_only(world):
    proposal = world.proposal()
    proxy = world.directors[1]
    today = timezone.localdate()
    delegation = do_name_delegate(
        world.directors[0],
        world.libraries[0],
        proxy,
        "proxy",
        today - timedelta(days=5),
        today - timedelta(days=1),
    )
    with pytest.raises(NotAllowed):
        world.vote(0, proposal, "yes", user=proxy)
    Delegation.objects.filter(pk=delegation.pk).update(ends_on=today + timedelta(days=1))
    ballot, _code = world.vote(0, proposal, "yes", user=proxy)
    assert ballot.authority == "proxy" and ballot.delegation_id == delegation.pk
    assert ballot.cast_by == proxy


def test_revoked_proxy_and_alternate(world):
    proposal = world.proposal()
    alternate = world.staff
    delegation = do_name_delegate(
        world.directors[0], world.libraries[0], alternate, "alternate", timezone.localdate()
    )
    ballot, _ = world.vote(0, proposal, "no", user=alternate)
    assert ballot.authority == "alternate"
    do_revoke_delegate(world.directors[0], delegation)
    with pytest.raises(NotAllowed):
        world.vote(0, proposal, "yes", user=alternate)


def test_only_the_director_names_proxies(world):
    with pytest.raises(NotAllowed):
        do_name_delegate(
            world.directors[1],
            world.libraries[0],
            world.staff,
            "proxy",
            timezone.localdate(),
            timezone.localdate(),
        )
    with pytest.raises(GovernanceError):  # a proxy needs an end date
        do_name_delegate(
            world.directors[0], world.libraries[0], world.staff, "proxy", timezone.localdate()
        )


def test_branches_and_the_root_do_not_vote(world):
    proposal = world.proposal()
    ids = set(Eligibility.objects.filter(proposal=proposal).values_list("library_id", flat=True))
    assert ids == {lib.pk for lib in world.libraries}
    assert world.branch.pk not in ids and world.root.pk not in ids


def test_no_ballot_after_close_or_before_open(world):
    proposal = world.proposal()
    expire(proposal)
    with pytest.raises(VotingClosed):
        world.vote(0, proposal, "yes")
    draft = world.proposal(open_=False)
    with pytest.raises(VotingClosed):
        world.vote(0, draft, "yes")


def test_invalid_choice_leaves_nothing_behind(world):
    proposal = world.proposal()
    with pytest.raises(InvalidChoice):
        world.vote(0, proposal, "maybe")
    assert not Ballot.objects.exists() and not BallotEvent.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="governance.ballot").exists()


# --- 4. electorate ----------------------------------------------------------------------


def test_electorate_committee_type_and_flag(world):
    academic, _ = world.add_library(library_type="academic", shares_catalogue=True)
    committee = Committee.objects.create(name="Shared catalogue", slug="cat")
    CommitteeMembership.objects.create(committee=committee, library=world.libraries[1])

    def electorate(**fields):
        proposal = world.proposal(**fields)
        return set(proposal.eligibilities.values_list("library_id", flat=True))

    assert electorate(electorate="committee", committee=committee) == {world.libraries[1].pk}
    assert electorate(electorate="library_type", electorate_type="academic") == {academic.pk}
    assert electorate(electorate="flag", electorate_flag="shares_catalogue") == {academic.pk}
    proposal = world.proposal(electorate="committee", committee=committee)
    with pytest.raises(NotAllowed):
        world.vote(0, proposal, "yes")


# --- 5. weighting -----------------------------------------------------------------------


def test_weights_frozen_at_open(world):
    MemberLibrary.objects.filter(pk=world.libraries[0].pk).update(vote_weight=Decimal("5"))
    weighted = world.proposal(weighting="weighted")
    equal = world.proposal(weighting="one_each")
    assert weighted.eligible_weight == Decimal("7") and equal.eligible_weight == Decimal("3")
    world.vote(0, weighted, "yes")
    world.vote(1, weighted, "no")
    world.vote(2, weighted, "no")
    world.vote(0, equal, "yes")
    world.vote(1, equal, "no")
    world.vote(2, equal, "no")
    MemberLibrary.objects.filter(pk=world.libraries[0].pk).update(vote_weight=Decimal("1"))
    assert close(weighted).outcome == tally.PASSED
    assert close(equal).outcome == tally.FAILED


# --- 6/7. kinds, thresholds, quorum, recusal --------------------------------------------


def test_quorum_and_recusal(world):
    proposal = world.proposal(quorum=Decimal("0.5"))
    world.vote(0, proposal, "yes")
    world.vote(1, proposal, "recuse")
    closed = close(proposal)
    assert closed.outcome == tally.FAILED and closed.result["quorum_met"] is False
    assert closed.state == Proposal.State.FAILED


def test_abstentions_configurable(world):
    excluded = world.proposal()
    in_base = world.proposal(abstentions="in_base")
    for p in (excluded, in_base):
        world.vote(0, p, "yes")
        world.vote(1, p, "abstain")
        world.vote(2, p, "abstain")
    assert close(excluded).outcome == tally.PASSED
    assert close(in_base).outcome == tally.FAILED


def test_two_thirds_of_entire_membership(world):
    proposal = world.proposal(majority="two_thirds", base="membership")
    world.vote(0, proposal, "yes")
    world.vote(1, proposal, "yes")
    result = close(proposal).result
    assert result["base_weight"] == "3" and result["outcome"] == tally.PASSED


def test_tie_reported(world):
    world.add_library()
    proposal = world.proposal()
    world.vote(0, proposal, "yes")
    world.vote(1, proposal, "no")
    world.vote(2, proposal, "yes")
    world.vote(3, proposal, "no")
    closed = close(proposal)
    assert closed.outcome == tally.TIE and closed.state == Proposal.State.FAILED


def test_choose_one_approval_and_ranked(world):
    one = world.proposal(kind="choose_one", majority="plurality", options=("a", "b"))
    world.vote(0, one, "a")
    world.vote(1, one, "b")
    world.vote(2, one, "b")
    assert close(one).result["winner"] == "b"

    approval = world.proposal(
        kind="approval", max_choices=2, majority="plurality", options=("a", "b", "c")
    )
    with pytest.raises(InvalidChoice):
        world.vote(0, approval, ["a", "b", "c"])
    world.vote(0, approval, ["a", "c"])
    world.vote(1, approval, ["c"])
    assert close(approval).result["winner"] == "c"

    world.add_library()
    world.add_library()
    ranked = world.proposal(kind="ranked", options=("a", "b", "c"))
    for n, ranking in enumerate([["a", "b"], ["a"], ["b", "a"], ["b"], ["c", "b"]]):
        world.vote(n, ranked, ranking)
    result = close(ranked).result
    assert len(result["rounds"]) == 2 and result["winner"] == "b"


# --- 8. secrecy ---------------------------------------------------------------------------


def test_secret_ballot_stores_no_link(world):
    proposal = world.proposal(secret=True)
    ballot, code = world.vote(0, proposal, "yes")
    assert ballot.choice is None and ballot.fingerprint == ""
    secret = SecretChoice.objects.get()
    # Sealed: the choice only as ciphertexts of the proposal's key.
    assert secret.choice is None and secret.sealed and secret.fingerprint == fingerprint(code)
    assert {f.name for f in SecretChoice._meta.get_fields()} == {
        "id",
        "proposal",
        "fingerprint",
        "weight",
        "sealed",
        "choice",
    }
    assert ballot.receipt_check != secret.fingerprint
    assert BallotEvent.objects.get().choice is None
    for entry in AuditEntry.objects.filter(action__startswith="governance.ballot"):
        assert "choice" not in entry.data and "fingerprint" not in entry.data
        assert "yes" not in str(entry.data)


def test_secret_ballot_changes_only_with_receipt(world):
    proposal = world.proposal(secret=True)
    _ballot, code = world.vote(0, proposal, "yes")
    with pytest.raises(ReceiptRequired):
        world.vote(0, proposal, "no")
    with pytest.raises(ReceiptRequired):
        world.vote(0, proposal, "no", receipt="AAAA-BBBB")
    _ballot, code2 = world.vote(0, proposal, "no", receipt=code.lower())
    assert SecretChoice.objects.get().fingerprint == fingerprint(code2)
    world.vote(1, proposal, "yes")
    closed = close(proposal)
    assert closed.result["totals"]["yes"] == "1" and closed.result["totals"]["no"] == "1"


# --- window and lifecycle ---------------------------------------------------------------


def test_extension_needs_reason_and_is_audited(world):
    proposal = world.proposal()
    later = proposal.closes_at + timedelta(days=1)
    with pytest.raises(GovernanceError):
        do_extend_window(world.admin, proposal, later, "  ")
    with pytest.raises(NotAllowed):
        do_extend_window(world.directors[0], proposal, later, "snow day")
    do_extend_window(world.admin, proposal, later, "snow day")
    proposal.refresh_from_db()
    assert proposal.closes_at == later and proposal.extensions.get().reason == "snow day"
    assert AuditEntry.objects.filter(action="governance.proposal.extended").exists()


def test_withdraw_and_open_rules(world):
    proposal = world.proposal(open_=False)
    with pytest.raises(NotAllowed):
        do_open_proposal(world.directors[0], proposal)
    do_withdraw_proposal(world.admin, proposal, "moved to next year")
    proposal.refresh_from_db()
    assert proposal.state == Proposal.State.WITHDRAWN
    with pytest.raises(GovernanceError):
        do_open_proposal(world.admin, proposal)
    bad = world.proposal(open_=False, kind="choose_one")
    with pytest.raises(GovernanceError):  # no options
        do_open_proposal(world.admin, bad)
