"""Closing a vote: count (a sealed ballot box only as its opened sums), publish and decide
in one step under the proposal's row lock, then announce the decision once."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from fractions import Fraction

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import record
from portal.members.selectors import consortium_root
from portal.signals import proposal_decided

from .. import sealing, tally
from ..models import Ballot, Proposal, SecretChoice
from ..rules import FINAL_STATES, RECENT_DAYS
from .errors import GovernanceError
from .proposals import digest
from .queue import enqueue_on_commit

logger = logging.getLogger(__name__)


def counted_ballots(proposal: Proposal) -> list[tally.Ballot]:
    """The ballots as the count sees them: weight and choice, never the library (not for a
    sealed proposal, whose choices are never decrypted one by one)."""
    if proposal.sealed:
        raise GovernanceError(_("A sealed ballot box is counted from its opened sums."))
    if proposal.secret:
        rows = SecretChoice.objects.filter(proposal=proposal).values_list("weight", "choice")
    else:
        rows = Ballot.objects.filter(proposal=proposal).values_list("weight", "choice")
    return [tally.Ballot(Fraction(w), c) for w, c in rows]


def sealed_ballots(proposal: Proposal) -> list[list[str]]:
    """The sealed ballots of a secret proposal, in no particular order."""
    return list(
        SecretChoice.objects.filter(proposal=proposal)
        .order_by("fingerprint")
        .values_list("sealed", flat=True)
    )


def count(proposal: Proposal) -> tally.Result:
    """The result; a sealed proposal's from its published opening, checked against the
    stored ciphertexts (:class:`sealing.SealingError` if they do not match)."""
    rule = proposal.rule()
    weights = {
        "eligible": proposal.eligible_weight or 0,
        "membership": proposal.membership_weight or 0,
    }
    if proposal.sealed:
        if proposal.tally_record is None:
            raise GovernanceError(_("A secret ballot is counted when the vote closes."))
        sealing.check_record(proposal.tally_record, sealed_ballots(proposal))
        return tally.decide(rule, sealing.sums_of(proposal.tally_record, rule), **weights)
    return tally.tally(rule, counted_ballots(proposal), **weights)


def open_sealed(proposal: Proposal) -> None:
    """Decrypt the sums of a sealed proposal's ballots (never one ballot), keep the opening
    and its proof on the proposal, and erase the private key. Call under its row lock."""
    proposal.tally_record = sealing.open_sums(
        proposal.ballot_key,
        proposal.sealed_private_key,
        proposal.rule(),
        sealed_ballots(proposal),
    )
    proposal.sealed_private_key = ""


def close_proposal(proposal_id: int, now=None, force: bool = False) -> Proposal | None:
    """Close a vote whose window has ended: count, publish and decide in one step.

    Idempotent: a proposal that is not open, or (unless ``force``) whose window has not
    ended, is left alone and None is returned.
    """
    now = now or timezone.now()
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().filter(pk=proposal_id).first()
        if proposal is None or proposal.state != Proposal.State.OPEN:
            return None
        if not force and (proposal.closes_at is None or proposal.closes_at > now):
            return None
        if proposal.sealed:
            try:
                open_sealed(proposal)
            except sealing.SealingError as exc:
                logger.error("Proposal %s cannot be counted: %s", proposal_id, exc)
                raise GovernanceError(
                    _(
                        "The secret ballots cannot be counted: %(reason)s. The vote stays open "
                        "until that is put right."
                    )
                    % {"reason": exc}
                ) from exc
        result = count(proposal)
        proposal.result = result.as_dict()
        proposal.outcome = result.outcome
        proposal.closed_at = now
        proposal.state = (
            Proposal.State.DECIDED if result.outcome == tally.PASSED else Proposal.State.FAILED
        )
        proposal.save(
            update_fields=[
                "result",
                "outcome",
                "closed_at",
                "state",
                "tally_record",
                "sealed_private_key",
            ]
        )
        record(
            "governance.proposal.closed",
            obj=proposal,
            data={
                "outcome": result.outcome,
                "result": proposal.result,
                "ballots": Ballot.objects.filter(proposal=proposal).count(),
                "opening": digest(json.dumps(proposal.tally_record, sort_keys=True))
                if proposal.tally_record
                else None,
            },
        )
        transaction.on_commit(lambda: announce_decision(proposal_id))
        enqueue_on_commit("notify_decided", proposal_id)
    return proposal


def announce_decision(proposal_id: int) -> bool:
    """Send ``proposal_decided`` exactly once per proposal (claimed by a conditional update)."""
    claimed = Proposal.objects.filter(
        pk=proposal_id,
        state__in=[Proposal.State.DECIDED, Proposal.State.FAILED],
        announced_at__isnull=True,
    ).update(announced_at=timezone.now())
    if not claimed:
        return False
    proposal = Proposal.objects.get(pk=proposal_id)
    for receiver, response in proposal_decided.send_robust(
        sender=consortium_root(),
        proposal=proposal,
        outcome=proposal.outcome,
        subject=proposal.subject,
    ):
        if isinstance(response, Exception):
            logger.error("proposal_decided receiver %r failed: %s", receiver, response)
    return True


def close_due_proposals(now=None) -> list[int]:
    """Close every vote whose window has ended and announce any decision not yet sent."""
    now = now or timezone.now()
    due = list(
        Proposal.objects.filter(state=Proposal.State.OPEN, closes_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    closed = []
    for pk in due:
        try:
            if close_proposal(pk, now=now) is not None:
                closed.append(pk)
        except GovernanceError:
            continue  # logged; the others are closed all the same

    for pk in Proposal.objects.filter(
        state__in=[Proposal.State.DECIDED, Proposal.State.FAILED], announced_at__isnull=True
    ).values_list("pk", flat=True):
        announce_decision(pk)
    # A decision email whose task was lost (broker down at close) goes out late, not never.
    for pk in Proposal.objects.filter(
        state__in=FINAL_STATES,
        decision_mailed_at__isnull=True,
        closed_at__lte=now - timedelta(minutes=10),
        closed_at__gte=now - timedelta(days=RECENT_DAYS),
    ).values_list("pk", flat=True):
        enqueue_on_commit("notify_decided", pk)
    return closed
