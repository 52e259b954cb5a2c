"""Writes: ``check_*`` validates and locks, ``do_*`` changes and schedules side effects.

Casting a ballot is one transaction: it takes a shared lock on the proposal (so closing,
which takes an exclusive lock, waits for ballots in flight and no ballot lands after the
count) and an exclusive lock on the library's eligibility row (so two people voting for
the same library at once are serialised). The audit entry is written in the same
transaction: a ballot and its record exist together or not at all.

A secret ballot's choice is sealed (``sealing.py``) before it reaches the database; the
close opens only the sums, with a proof, and erases the private key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import time
from base64 import b32encode
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from portal import access
from portal.audit.services import record
from portal.background import enqueue
from portal.members.models import MemberLibrary
from portal.signals import proposal_decided

from . import sealing, tally
from .models import (
    Authority,
    Ballot,
    BallotEvent,
    Comment,
    Delegation,
    Eligibility,
    Proposal,
    SecretChoice,
    WindowExtension,
    voting_members,
)
from .rules import (  # noqa: F401 - the rules, asked of the services too
    CAST,
    FINAL_STATES,
    MANAGE,
    NAME_PROXY,
    RECENT_DAYS,
    VIEW,
    VotingAuthority,
    can_manage,
    consortium_root,
)

logger = logging.getLogger(__name__)


class GovernanceError(Exception):
    """A write that the rules refuse; the message is safe to show."""


class NotAllowed(GovernanceError):
    pass


class VotingClosed(GovernanceError):
    pass


class InvalidChoice(GovernanceError):
    pass


class ReceiptRequired(GovernanceError):
    pass


class BallotNotRecorded(GovernanceError):
    """The database did not answer while a ballot was cast."""


# How long a ballot whose connection broke waits for the database to say if it was recorded.
BALLOT_CONFIRM_SECONDS = 5


# --- receipts -------------------------------------------------------------------------


def new_receipt() -> str:
    raw = b32encode(secrets.token_bytes(15)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _clean_receipt(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def receipt_check(code: str) -> str:
    return hashlib.sha256(b"ballot:" + _clean_receipt(code).encode()).hexdigest()


def fingerprint(code: str) -> str:
    """What the public ballot list shows for a receipt; a different hash from the check."""
    return hashlib.sha256(b"choice:" + _clean_receipt(code).encode()).hexdigest()[:20]


# --- who may do what ------------------------------------------------------------------


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


# --- electorate -----------------------------------------------------------------------


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


def _weight(proposal: Proposal, vote_weight) -> Decimal:
    return Decimal(vote_weight) if proposal.weighting == tally.WEIGHTED else Decimal(1)


# --- the proposal's life --------------------------------------------------------------


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
                "ballot_key": _digest(proposal.ballot_key) if proposal.ballot_key else None,
            },
        )
        transaction.on_commit(lambda: _queue("notify_opened", proposal.pk))
    return proposal


def _digest(text: str) -> str:
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


def _queue(task: str, *args) -> None:
    """Queue ``governance.<task>`` by its name: tasks.py calls these services, so they do not
    import it."""
    try:
        enqueue(f"governance.{task}", *args)
    except Exception:  # a broker outage must not undo the committed write
        logger.exception("Could not queue %s%r", task, args)


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


# --- ballots --------------------------------------------------------------------------


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


# --- delegations ----------------------------------------------------------------------


def check_name_delegate(user, library: MemberLibrary, person, kind, starts_on, ends_on) -> None:
    if not access.can(user, NAME_PROXY, library):
        raise NotAllowed(_("You may not name a proxy for this library."))
    if library.kind not in (MemberLibrary.Kind.SYSTEM, MemberLibrary.Kind.LIBRARY):
        raise GovernanceError(_("Only voting members name proxies."))
    if person is None or not person.is_active:
        raise GovernanceError(_("No active account has that address."))
    if person.pk == user.pk:
        raise GovernanceError(_("You cannot name yourself."))
    if kind not in Delegation.Kind.values:
        raise GovernanceError(_("Choose alternate or proxy."))
    if kind == Delegation.Kind.PROXY and ends_on is None:
        raise GovernanceError(_("A proxy needs an end date."))
    if ends_on is not None and ends_on < starts_on:
        raise GovernanceError(_("The end date comes before the start date."))


def do_name_delegate(user, library, person, kind, starts_on, ends_on=None) -> Delegation:
    with transaction.atomic():
        check_name_delegate(user, library, person, kind, starts_on, ends_on)
        delegation = Delegation.objects.create(
            library=library,
            person=person,
            kind=kind,
            starts_on=starts_on,
            ends_on=ends_on,
            named_by=user,
        )
        record(
            "governance.delegation.named",
            actor=user,
            library=library,
            obj=delegation,
            data={"person": person.email, "kind": kind, "from": starts_on, "until": ends_on},
        )
    return delegation


def do_revoke_delegate(user, delegation: Delegation) -> Delegation:
    with transaction.atomic():
        delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
        if not access.can(user, NAME_PROXY, delegation.library):
            raise NotAllowed(_("You may not revoke this proxy."))
        if delegation.revoked_at is None:
            delegation.revoked_at = timezone.now()
            delegation.save(update_fields=["revoked_at"])
            record(
                "governance.delegation.revoked",
                actor=user,
                library=delegation.library,
                obj=delegation,
            )
    return delegation


# --- comments -------------------------------------------------------------------------


def do_comment(user, proposal: Proposal, body: str, library=None) -> Comment:
    body = body.strip()
    if not body:
        raise GovernanceError(_("Write something first."))
    if proposal.state == Proposal.State.DRAFT:
        raise GovernanceError(_("The discussion opens with the proposal."))
    return Comment.objects.create(proposal=proposal, author=user, library=library, body=body)


# --- closing --------------------------------------------------------------------------


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
                "opening": _digest(json.dumps(proposal.tally_record, sort_keys=True))
                if proposal.tally_record
                else None,
            },
        )
        transaction.on_commit(lambda: announce_decision(proposal_id))
        transaction.on_commit(lambda: _queue("notify_decided", proposal_id))
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
        _queue("notify_decided", pk)
    return closed


# --- notifications --------------------------------------------------------------------


def _recipients(proposal: Proposal, library_ids) -> list[str]:
    """The libraries' contact addresses and their current alternates and proxies."""
    addresses = set(
        MemberLibrary.objects.filter(pk__in=library_ids)
        .exclude(contact_email="")
        .values_list("contact_email", flat=True)
    )
    today = timezone.localdate()
    for delegation in Delegation.objects.filter(
        library_id__in=library_ids, revoked_at=None
    ).select_related("person"):
        if delegation.covers(today):
            addresses.add(delegation.person.email)
    return sorted(addresses)


def _mail(proposal: Proposal, subject: str, addresses: list[str], body: str = "", path="") -> int:
    from django.conf import settings
    from django.core.mail import send_mass_mail

    path = path or proposal.get_absolute_url()
    body = f"{body or proposal.title}\n\n{settings.WAGTAILADMIN_BASE_URL}{path}\n"
    return send_mass_mail(
        [(subject, body, None, [address]) for address in addresses], fail_silently=True
    )


def notify_opened(proposal_id: int) -> int:
    proposal = Proposal.objects.filter(pk=proposal_id, state=Proposal.State.OPEN).first()
    if proposal is None:
        return 0
    ids = list(proposal.eligibilities.values_list("library_id", flat=True))
    return _mail(proposal, _("A vote is open: %s") % proposal.title, _recipients(proposal, ids))


def decision_recipients(proposal: Proposal) -> list[str]:
    """Everyone who may see the proposal for an eligible library, and the alternates and
    proxies those libraries had during the window; each address once."""
    libraries = MemberLibrary.objects.filter(
        pk__in=Eligibility.objects.filter(proposal=proposal).values("library_id")
    )
    addresses = access.people_with_any(VIEW, libraries).values_list("email", flat=True)
    opened = timezone.localdate(proposal.opens_at) if proposal.opens_at else None
    closed = timezone.localdate(proposal.closed_at or timezone.now())
    delegates = Delegation.objects.filter(
        library__in=libraries, revoked_at=None, starts_on__lte=closed, person__is_active=True
    )
    if opened is not None:
        delegates = delegates.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=opened))
    unique: dict[str, str] = {}
    for address in [*addresses, *delegates.values_list("person__email", flat=True)]:
        if address:
            unique.setdefault(address.lower(), address)
    return sorted(unique.values())


OUTCOME_WORDS = {
    tally.PASSED: _lazy("carried"),
    tally.FAILED: _lazy("not carried"),
    tally.TIE: _lazy("tied"),
}


def notify_decided(proposal_id: int) -> int:
    """Email the decision once per proposal: the claim is recorded before sending, so a
    retried or duplicated task sends nothing (a crash mid-send loses mail, never repeats it)."""
    now = timezone.now()
    claimed = Proposal.objects.filter(
        pk=proposal_id, state__in=FINAL_STATES, decision_mailed_at__isnull=True
    ).update(decision_mailed_at=now)
    if not claimed:
        return 0
    proposal = Proposal.objects.get(pk=proposal_id)
    addresses = decision_recipients(proposal)
    outcome = OUTCOME_WORDS.get(proposal.outcome, proposal.outcome)
    subject = _("Decided: %(title)s (%(outcome)s)") % {"title": proposal.title, "outcome": outcome}
    body = _("The vote on “%(title)s” has closed: %(outcome)s. The results:") % {
        "title": proposal.title,
        "outcome": outcome,
    }
    results = reverse("governance:results", args=[proposal.pk])
    sent = _mail(proposal, subject, addresses, body=body, path=results)
    record(
        "governance.proposal.decision_mailed",
        obj=proposal,
        data={"outcome": proposal.outcome, "recipients": len(addresses), "sent": sent},
    )
    return sent


def remind_due_proposals(now=None, hours: int = 48) -> int:
    """Once per window: remind libraries that have not voted, 48 hours before the close."""
    now = now or timezone.now()
    sent = 0
    for proposal in Proposal.objects.filter(
        state=Proposal.State.OPEN,
        reminded_at__isnull=True,
        closes_at__gt=now,
        closes_at__lte=now + timedelta(hours=hours),
    ):
        if not Proposal.objects.filter(pk=proposal.pk, reminded_at__isnull=True).update(
            reminded_at=now
        ):
            continue
        voted = Ballot.objects.filter(proposal=proposal).values_list("library_id", flat=True)
        waiting = proposal.eligibilities.exclude(library_id__in=voted).values_list(
            "library_id", flat=True
        )
        sent += _mail(
            proposal,
            _("Your library has not voted yet: %s") % proposal.title,
            _recipients(proposal, list(waiting)),
        )
    return sent
