"""A closed vote's published results: the chart, the public ballot list (fingerprints; the
library only for open ballots) and a sealed vote's record for anyone to recount."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from django.utils.translation import gettext as _

from .. import sealing, tally
from ..models import Ballot, Proposal, SecretChoice


def option_labels(proposal: Proposal, options=None) -> dict[str, str]:
    """Words for every key a choice can hold; pass ``options`` already loaded to save a query."""
    if options is None:
        options = proposal.options.all()
    labels = {
        tally.YES: _("Yes"),
        tally.NO: _("No"),
        tally.ABSTAIN: _("Abstain"),
        tally.RECUSE: _("Recused"),
    }
    labels.update({o.key: o.label for o in options})
    return labels


@dataclass
class Bar:
    key: str
    label: str
    value: Fraction
    count: int
    width: float
    y: int

    @property
    def text_x(self) -> int:
        return int(self.width) + 166


def chart_bars(proposal: Proposal, width: int = 400, labels: dict | None = None) -> list[Bar]:
    """Bars for the results chart: one per choice, scaled to the largest (pass the
    ``option_labels`` already read to save a query)."""
    result = proposal.result or {}
    labels = option_labels(proposal) if labels is None else labels
    totals = {k: Fraction(v) for k, v in result.get("totals", {}).items()}
    top = max(totals.values(), default=Fraction(0)) or Fraction(1)
    return [
        Bar(
            key=k,
            label=labels.get(k, k),
            value=v,
            count=result.get("counts", {}).get(k, 0),
            width=round(float(v / top) * width, 1),
            y=i * 34,
        )
        for i, (k, v) in enumerate(totals.items())
    ]


def public_ballots(proposal: Proposal) -> list[dict]:
    """After close: receipt fingerprint + choice, with the library only for open ballots."""
    if not proposal.is_final:
        return []
    if proposal.sealed:
        # Sealed ballots are never decrypted one by one: each is listed by its receipt's
        # fingerprint and its tracker, and counted in the opened sums.
        return [
            {
                "fingerprint": fp,
                "tracker": sealing.tracker(sealed),
                "choice": None,
                "weight": weight,
                "library": None,
            }
            for fp, sealed, weight in SecretChoice.objects.filter(proposal=proposal)
            .order_by("fingerprint")
            .values_list("fingerprint", "sealed", "weight")
        ]
    if proposal.secret:
        return [
            {"fingerprint": fp, "choice": choice, "weight": weight, "library": None}
            for fp, choice, weight in SecretChoice.objects.filter(proposal=proposal)
            .order_by("fingerprint")
            .values_list("fingerprint", "choice", "weight")
        ]
    return [
        {"fingerprint": b.fingerprint, "choice": b.choice, "weight": b.weight, "library": b.library}
        for b in Ballot.objects.filter(proposal=proposal)
        .select_related("library")
        .order_by("fingerprint")
    ]


def sealed_record(proposal: Proposal) -> dict:
    """Everything a member needs to recount a sealed proposal without the portal: the
    rule, the public key, every sealed ballot, and the opening of their sums with its proof
    (checked by ``sealing.check_record``; docs/ballot-secrecy.md shows how by hand)."""
    rows = SecretChoice.objects.filter(proposal=proposal).order_by("fingerprint")
    return {
        "proposal": proposal.pk,
        "title": proposal.title,
        "rule": {
            "kind": proposal.kind,
            "options": [o.key for o in proposal.options.all()],
            "majority": proposal.majority,
            "base": proposal.base,
            "abstentions": proposal.abstentions,
            "quorum": str(proposal.quorum),
            "eligible_weight": str(proposal.eligible_weight),
            "membership_weight": str(proposal.membership_weight),
        },
        "ballots": [
            {"fingerprint": fp, "tracker": sealing.tracker(sealed), "sealed": sealed}
            for fp, sealed in rows.values_list("fingerprint", "sealed")
        ],
        "opening": proposal.tally_record,
        "result": proposal.result,
    }


def weight_text(value) -> str:
    number = Fraction(str(value))
    if number.denominator == 1:
        return str(number.numerator)
    return f"{float(number):.3f}".rstrip("0").rstrip(".")
