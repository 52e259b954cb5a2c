"""The emails: a vote is open, your library has not voted yet, a decision (once)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from portal import access
from portal.audit.services import record
from portal.members.models import MemberLibrary

from .. import tally
from ..models import Ballot, Delegation, Eligibility, Proposal
from ..rules import FINAL_STATES, VIEW


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
