"""Re-checking a proposal: recount from the stored ballots, match the audit trail."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from portal.audit.models import AuditEntry
from portal.audit.services import verify_chain

from . import sealing
from .models import Ballot, BallotEvent, Eligibility, Proposal, SecretChoice
from .services.closing import count
from .services.errors import GovernanceError


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def check(self, condition: bool, good: str, bad: str) -> None:
        if condition:
            self.lines.append(f"ok    {good}")
        else:
            self.lines.append(f"FAIL  {bad}")
            self.problems.append(bad)


def verify(proposal: Proposal) -> Report:
    """Everything ``manage.py verify_proposal`` checks, as a report."""
    report = Report()
    ballots = list(Ballot.objects.filter(proposal=proposal))
    eligible = dict(
        Eligibility.objects.filter(proposal=proposal).values_list("library_id", "weight")
    )
    report.check(
        all(b.library_id in eligible and b.weight == eligible[b.library_id] for b in ballots),
        f"{len(ballots)} ballots, each from an eligible library at its frozen weight",
        "a ballot comes from a library outside the electorate or with a changed weight",
    )
    secret = list(SecretChoice.objects.filter(proposal=proposal).values_list("weight", flat=True))
    if proposal.sealed:
        stored = SecretChoice.objects.filter(proposal=proposal)
        report.check(
            not stored.filter(choice__isnull=False).exists()
            and not stored.filter(sealed__isnull=True).exists(),
            "every secret choice is sealed; none is stored in the clear",
            "a secret choice of a sealed proposal is stored in the clear or not at all",
        )
    if proposal.secret:
        report.check(
            Counter(secret) == Counter(b.weight for b in ballots)
            and all(b.choice is None for b in ballots),
            f"{len(secret)} secret choices match the ballots one to one by weight",
            f"{len(secret)} secret choices for {len(ballots)} ballots",
        )
    else:
        report.check(not secret, "no secret choices on an open ballot", "stray secret choices")

    if proposal.sealed and not proposal.is_final:
        report.lines.append("--    sealed until the close: the sums are opened then, not before")
        result = None
    else:
        try:
            result = count(proposal).as_dict()
        except (sealing.SealingError, GovernanceError) as exc:
            report.check(False, "", f"the sealed ballots do not give the published sums: {exc}")
            result = None
        else:
            if proposal.sealed:
                report.lines.append(
                    f"ok    the {proposal.tally_record['ballots']} sealed ballots multiply to "
                    "the published aggregate, and its sums re-encrypt to it (opening proof)"
                )
    if result is None:
        pass
    elif proposal.is_final:
        report.check(
            result == proposal.result,
            f"recount gives the published result: {result['outcome']}",
            f"recount gives {result['outcome']} / {result['totals']}, "
            f"published {proposal.outcome} / {(proposal.result or {}).get('totals')}",
        )
    else:
        report.lines.append(f"--    not closed; the count so far: {result['outcome']}")

    chain = verify_chain()
    report.check(
        chain.intact,
        f"audit chain intact ({chain.checked} entries)",
        f"audit chain broken at entry {chain.broken_at}: {chain.reason}",
    )
    entries = list(
        AuditEntry.objects.filter(
            object_type=Ballot._meta.label_lower,
            object_id__in=[str(b.pk) for b in ballots],
            action__in=["governance.ballot.cast", "governance.ballot.changed"],
        ).order_by("pk")
    )
    events = BallotEvent.objects.filter(proposal=proposal).count()
    report.check(
        len(entries) == events
        and sum(1 for e in entries if e.action.endswith(".cast")) == len(ballots),
        f"{len(entries)} ballot events in the audit log, one per recorded cast or change",
        f"{len(entries)} audit entries for {events} ballot events and {len(ballots)} ballots",
    )
    if proposal.sealed:
        opened = (
            AuditEntry.objects.filter(
                action="governance.proposal.opened",
                object_type=Proposal._meta.label_lower,
                object_id=str(proposal.pk),
            )
            .order_by("pk")
            .last()
        )
        digest = (opened.data if opened else {}).get("ballot_key")
        if digest:
            report.check(
                hashlib.sha256(proposal.ballot_key.encode()).hexdigest() == digest,
                "the ballot key is the one recorded when voting opened",
                "the ballot key differs from the one recorded when voting opened",
            )
        audited = {}
        for entry in entries:
            audited[entry.object_id] = entry.data.get("tracker")
        trackers = Counter(
            sealing.tracker(s)
            for s in SecretChoice.objects.filter(proposal=proposal).values_list("sealed", flat=True)
        )
        if all(audited.values()):
            report.check(
                Counter(audited.values()) == trackers,
                "each sealed ballot is the one its cast recorded in the audit chain (trackers)",
                "a sealed ballot differs from the one recorded when it was cast",
            )
        else:
            report.lines.append("--    ballots cast before sealing: their trackers are not audited")
    if not proposal.secret:
        last = {}
        for entry in entries:
            last[entry.object_id] = entry.data
        report.check(
            all(
                last.get(str(b.pk), {}).get("choice") == b.choice
                and last.get(str(b.pk), {}).get("fingerprint") == b.fingerprint
                for b in ballots
            ),
            "each ballot's choice matches its last audit entry",
            "a ballot's stored choice differs from its audit trail",
        )
    if proposal.closed_at:
        late = BallotEvent.objects.filter(proposal=proposal, at__gt=proposal.closed_at).count()
        report.check(late == 0, "no ballot event after the close", f"{late} events after close")
    return report
