"""Who holds a vote, and each eligible library's weight in a proposal, frozen when voting
opened."""

from __future__ import annotations

from django.db import models

from portal.members.models import MemberLibrary

from .proposals import Proposal

# Member libraries that hold a vote: systems and stand-alone libraries, never branches.
VOTING_KINDS = (MemberLibrary.Kind.SYSTEM, MemberLibrary.Kind.LIBRARY)


def voting_members():
    return MemberLibrary.objects.filter(kind__in=VOTING_KINDS)


class Eligibility(models.Model):
    """A library in a proposal's electorate, with its weight frozen when voting opened."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="eligibilities")
    library = models.ForeignKey(MemberLibrary, on_delete=models.PROTECT, related_name="+")
    weight = models.DecimalField(max_digits=8, decimal_places=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "library"], name="eligible_once")
        ]

    def __str__(self):
        return f"{self.library_id} in #{self.proposal_id}"
