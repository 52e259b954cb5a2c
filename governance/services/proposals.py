"""A proposal's life before its close: opened (its electorate and their weights frozen, a
secret ballot's key made), its window extended with a reason, or withdrawn."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import record
from portal.home.panels import panel_changed

from .. import sealing, tally
from ..models import Eligibility, Proposal, WindowExtension, voting_members
from ..rules import can_manage
from .electorate import electorate
from .errors import GovernanceError, NotAllowed
from .queue import enqueue_on_commit


def _weight(proposal: Proposal, vote_weight) -> Decimal:
    return Decimal(vote_weight) if proposal.weighting == tally.WEIGHTED else Decimal(1)


def check_open_proposal(user, proposal: Proposal) -> None:
    if not can_manage(user):
        raise NotAllowed(_("Only the consortium office opens proposals."))
    if proposal.state != Proposal.State.DRAFT:
        raise GovernanceError(_("Only a draft can be opened."))
    if proposal.closes_at is None or proposal.closes_at <= timezone.now():
        raise GovernanceError(_("Set a closing time in the future first."))
    if proposal.electorate == Proposal.Electorate.COMMITTEE and not proposal.committee_id:
        raise GovernanceError(_("A committee electorate needs a committee."))
    if proposal.electorate == Proposal.Electorate.LIBRARY_TYPE and not proposal.electorate_type:
        raise GovernanceError(_("Choose the library type of the electorate."))
    if proposal.electorate == Proposal.Electorate.FLAG and not proposal.electorate_flag:
        raise GovernanceError(_("Choose the flag of the electorate."))
    if proposal.secret and proposal.kind == tally.RANKED:
        raise GovernanceError(
            _(
                "A ranked-choice ballot cannot be secret: its count needs every whole ranking, "
                "and a secret ballot is only ever decrypted as totals."
            )
        )
    try:
        proposal.rule()
    except tally.TallyError as exc:
        raise GovernanceError(str(exc)) from exc


# A sealed counter holds at most 64 bits: the whole membership's weight in thousandths.
MAX_SEALED_WEIGHT = Decimal(2**62) / sealing.WEIGHT_SCALE


def do_open_proposal(user, proposal: Proposal) -> Proposal:
    """Freeze the electorate and its weights, then open the window; a secret proposal gets
    its ballot key (made before the lock: a second or so of prime search)."""
    key = sealing.new_key() if proposal.secret and proposal.kind != tally.RANKED else None
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        check_open_proposal(user, proposal)
        rows = [
            Eligibility(proposal=proposal, library_id=pk, weight=_weight(proposal, w))
            for pk, w in electorate(proposal).values_list("pk", "vote_weight").distinct()
        ]
        Eligibility.objects.bulk_create(rows)
        panel_changed("governance")  # bulk_create sends no post_save
        if proposal.weighting == tally.WEIGHTED:
            membership = voting_members().aggregate(s=Sum("vote_weight"))["s"] or Decimal(0)
        else:
            membership = Decimal(voting_members().count())
        proposal.eligible_weight = sum((r.weight for r in rows), Decimal(0))
        proposal.membership_weight = membership
        if proposal.secret:
            if key is None:
                key = sealing.new_key()
            if proposal.eligible_weight > MAX_SEALED_WEIGHT:
                raise GovernanceError(
                    _("The electorate's weight is too large for a secret ballot.")
                )
            proposal.ballot_key = key.public
            proposal.sealed_private_key = key.sealed_private
        proposal.state = Proposal.State.OPEN
        if proposal.opens_at is None:
            proposal.opens_at = timezone.now()
        proposal.save()
        record(
            "governance.proposal.opened",
            actor=user,
            obj=proposal,
            data={
                "eligible": [r.library_id for r in rows],
                "eligible_weight": proposal.eligible_weight,
                "membership_weight": proposal.membership_weight,
                "rule": _rule_data(proposal),
                "closes_at": proposal.closes_at,
                # The public key's digest: the key the ballots are sealed to cannot be swapped.
                "ballot_key": digest(proposal.ballot_key) if proposal.ballot_key else None,
            },
        )
        enqueue_on_commit("notify_opened", proposal.pk)
    return proposal


def digest(text: str) -> str:
    """The sha256 of ``text``, as the audit entries record a key or an opening."""
    return hashlib.sha256(text.encode()).hexdigest()


def _rule_data(proposal: Proposal) -> dict:
    return {
        "kind": proposal.kind,
        "majority": proposal.majority,
        "base": proposal.base,
        "abstentions": proposal.abstentions,
        "quorum": proposal.quorum,
        "weighting": proposal.weighting,
        "secret": proposal.secret,
        "options": [o.key for o in proposal.options.all()],
    }


def check_extend_window(user, proposal: Proposal, closes_at, reason: str) -> None:
    if not can_manage(user):
        raise NotAllowed(_("Only the consortium office extends a vote."))
    if proposal.state != Proposal.State.OPEN:
        raise GovernanceError(_("Only an open vote can be extended."))
    if not reason.strip():
        raise GovernanceError(_("Give the reason for the extension."))
    if proposal.closes_at and closes_at <= proposal.closes_at:
        raise GovernanceError(_("The new closing time must be later."))


def do_extend_window(user, proposal: Proposal, closes_at, reason: str) -> WindowExtension:
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        check_extend_window(user, proposal, closes_at, reason)
        extension = WindowExtension.objects.create(
            proposal=proposal,
            previous_closes_at=proposal.closes_at,
            closes_at=closes_at,
            reason=reason.strip(),
            by=user,
        )
        proposal.closes_at = closes_at
        proposal.reminded_at = None
        proposal.save(update_fields=["closes_at", "reminded_at"])
        record(
            "governance.proposal.extended",
            actor=user,
            obj=proposal,
            data={
                "from": extension.previous_closes_at,
                "to": closes_at,
                "reason": extension.reason,
            },
        )
    return extension


def do_withdraw_proposal(user, proposal: Proposal, reason: str = "") -> Proposal:
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if not can_manage(user):
            raise NotAllowed(_("Only the consortium office withdraws a proposal."))
        if proposal.state not in (Proposal.State.DRAFT, Proposal.State.OPEN):
            raise GovernanceError(_("Only a draft or an open proposal can be withdrawn."))
        proposal.state = Proposal.State.WITHDRAWN
        proposal.closed_at = timezone.now()
        proposal.save(update_fields=["state", "closed_at"])
        record("governance.proposal.withdrawn", actor=user, obj=proposal, data={"reason": reason})
    return proposal
