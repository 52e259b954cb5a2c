"""Casting a ballot: ``check_cast_ballot`` takes the locks (the proposal shared, the
library's eligibility row exclusive) and ``do_cast_ballot`` stores the ballot, its history
and its audit entry in the same transaction; a secret ballot's choice is sealed first and
stored apart from the library."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import record

from .. import sealing, tally
from ..models import Ballot, BallotEvent, Eligibility, Proposal, SecretChoice
from ..rules import VotingAuthority
from .electorate import voting_authority
from .errors import (
    BallotNotRecorded,
    GovernanceError,
    InvalidChoice,
    NotAllowed,
    ReceiptRequired,
    VotingClosed,
)
from .receipts import fingerprint, new_receipt, receipt_check

logger = logging.getLogger(__name__)

# How long a ballot whose connection broke waits for the database to say if it was recorded.
BALLOT_CONFIRM_SECONDS = 5


@dataclass
class CastPlan:
    user: Any
    proposal: Proposal
    eligibility: Eligibility
    authority: VotingAuthority
    choice: Any
    existing: Ballot | None
    old_receipt: str | None
    rule: tally.Rule | None = None  # read once (a choice ballot's options are a query)


def _lock_proposal_shared(proposal_id: int) -> Proposal | None:
    """The proposal, locked FOR SHARE in the same query (ballots in flight share it)."""
    if connection.vendor == "postgresql":
        table = Proposal._meta.db_table
        rows = Proposal.objects.raw(
            f"SELECT * FROM {table} WHERE id = %s FOR SHARE",  # noqa: S608
            [proposal_id],
        )
        return next(iter(rows), None)
    return Proposal.objects.select_for_update().filter(pk=proposal_id).first()


def _json_choice(rule: tally.Rule, choice: Any) -> Any:
    try:
        canonical = tally.validate_choice(rule, choice)
    except tally.TallyError as exc:
        raise InvalidChoice(_("That is not a valid choice on this ballot.")) from exc
    if isinstance(canonical, frozenset):
        return sorted(canonical)
    if isinstance(canonical, tuple):
        return list(canonical)
    return canonical


def check_cast_ballot(user, proposal_id: int, library_id: int, choice, receipt=None) -> CastPlan:
    """Validate a ballot and take its locks; call inside ``transaction.atomic``.

    ``choice`` may be a function of the proposal, for a form whose fields depend on the
    kind of ballot: the proposal is then read once, already locked.
    """
    proposal = _lock_proposal_shared(proposal_id)
    if proposal is None or not proposal.accepting_ballots():
        raise VotingClosed(_("This vote is not open."))
    # Only the eligibility row: the library row need not be locked.
    eligibility = (
        Eligibility.objects.select_for_update(of=("self",))
        .select_related("library")
        .filter(proposal_id=proposal_id, library_id=library_id)
        .first()
    )
    if eligibility is None:
        raise NotAllowed(_("This library is not in the electorate of this proposal."))
    authority = voting_authority(user, eligibility.library)
    if authority is None:
        raise NotAllowed(_("You may not vote for this library."))
    if callable(choice):
        choice = choice(proposal)
    rule = proposal.rule()
    choice = _json_choice(rule, choice)
    existing = Ballot.objects.filter(proposal_id=proposal_id, library_id=library_id).first()
    # Only the receipt links a secret ballot to its choice, so only its holder can change it.
    if (
        existing is not None
        and proposal.secret
        and (not receipt or receipt_check(receipt) != existing.receipt_check)
    ):
        raise ReceiptRequired(
            _("To change a secret ballot, enter the receipt code you were given.")
        )
    return CastPlan(user, proposal, eligibility, authority, choice, existing, receipt, rule)


def do_cast_ballot(plan: CastPlan, code: str | None = None) -> tuple[Ballot, str]:
    """Store the ballot (and for a secret one its separate choice); returns the receipt
    (``code``, or a new one)."""
    proposal, eligibility = plan.proposal, plan.eligibility
    now = timezone.now()
    code = code or new_receipt()
    print_ = fingerprint(code)
    if proposal.secret:
        if plan.existing is not None:
            deleted, _rows = SecretChoice.objects.filter(
                proposal=proposal, fingerprint=fingerprint(plan.old_receipt)
            ).delete()
            if deleted != 1:
                raise GovernanceError(_("The earlier secret choice could not be found."))
        if proposal.sealed:
            rule = plan.rule or proposal.rule()
            sealed = sealing.seal(proposal.ballot_key, rule, eligibility.weight, plan.choice)
            SecretChoice.objects.create(
                proposal=proposal, fingerprint=print_, weight=eligibility.weight, sealed=sealed
            )
        else:  # a ranked secret ballot opened before sealing: counted as it was
            SecretChoice.objects.create(
                proposal=proposal, fingerprint=print_, weight=eligibility.weight, choice=plan.choice
            )
    ballot = plan.existing or Ballot(proposal=proposal, library=eligibility.library)
    action = BallotEvent.Action.CHANGED if plan.existing else BallotEvent.Action.CAST
    ballot.weight = eligibility.weight
    ballot.cast_by = plan.user
    ballot.authority = plan.authority.kind
    ballot.delegation = plan.authority.delegation
    ballot.receipt_check = receipt_check(code)
    ballot.fingerprint = "" if proposal.secret else print_
    ballot.choice = None if proposal.secret else plan.choice
    ballot.cast_at = now
    # Shown on the receipt once, stored nowhere beside the library.
    ballot.tracker = sealing.tracker(sealed) if proposal.sealed else ""
    if plan.existing:
        ballot.changes += 1
    ballot.save()
    shown = None if proposal.secret else plan.choice
    BallotEvent.objects.create(
        proposal=proposal,
        library=eligibility.library,
        action=action,
        by=plan.user,
        authority=plan.authority.kind,
        choice=shown,
        at=now,
    )
    data = {
        "proposal": proposal.pk,
        "authority": plan.authority.kind,
        "delegation": plan.authority.delegation.pk if plan.authority.delegation else None,
        "weight": eligibility.weight,
    }
    if not proposal.secret:
        data.update(choice=plan.choice, fingerprint=print_)
    elif proposal.sealed:
        # Under the audit chain's key: a ciphertext changed in the database after it was
        # cast no longer matches its ballot's last entry (verify_proposal compares them).
        data["tracker"] = ballot.tracker
    record(
        f"governance.ballot.{action}",
        actor=plan.user,
        library=eligibility.library,
        obj=ballot,
        data=data,
    )
    return ballot, code


def cast_ballot(user, proposal_id: int, library_id: int, choice, receipt=None):
    """Check and cast in one transaction; returns ``(ballot, receipt code)``.

    A ballot is either recorded and its receipt returned, or refused with
    :class:`BallotNotRecorded`: when the connection to the database breaks (a restart, a
    failover), the receipt made beforehand tells whether the commit went through."""
    code = new_receipt()
    try:
        with transaction.atomic():
            plan = check_cast_ballot(user, proposal_id, library_id, choice, receipt)
            return do_cast_ballot(plan, code)
    except (OperationalError, InterfaceError) as exc:
        if connection.in_atomic_block:
            raise  # the caller's transaction is lost with it: theirs to report
        logger.warning("Ballot on proposal %s: %s", proposal_id, type(exc).__name__)
        ballot = _ballot_with_receipt(proposal_id, library_id, code)
        if ballot is None:
            raise BallotNotRecorded(
                _("Your ballot was not recorded: the database did not answer. Cast it again.")
            ) from exc
        return ballot, code


def _ballot_with_receipt(proposal_id: int, library_id: int, code: str) -> Ballot | None:
    """The ballot cast with ``code``, asked again for a few seconds while the database comes
    back; if it never answers, whether the ballot was recorded is unknown, and said so."""
    wanted = Ballot.objects.select_related("proposal").filter(
        proposal_id=proposal_id, library_id=library_id, receipt_check=receipt_check(code)
    )
    pause, waited = 0.1, 0.0
    while True:
        with contextlib.suppress(OperationalError, InterfaceError):
            connection.close()  # broken: the next query opens another
        try:
            return wanted.first()
        except (OperationalError, InterfaceError) as exc:
            if waited >= BALLOT_CONFIRM_SECONDS:
                raise BallotNotRecorded(
                    _(
                        "The database did not answer, so whether your ballot was recorded is "
                        "not known. Open the proposal again in a minute: it shows your "
                        "library's ballot if it was recorded; if not, cast it again."
                    )
                ) from exc
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, 1.0)
