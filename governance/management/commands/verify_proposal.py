"""Recompute a proposal's count from its ballots and check the audit chain."""

from django.core.management.base import BaseCommand, CommandError

from governance.models import Proposal
from governance.verification import verify


class Command(BaseCommand):
    help = "Recompute a proposal's tally from the stored ballots and verify the audit chain."

    def add_arguments(self, parser):
        parser.add_argument("proposal_id", type=int)

    def handle(self, *args, proposal_id, **options):
        proposal = Proposal.objects.filter(pk=proposal_id).first()
        if proposal is None:
            raise CommandError(f"No proposal {proposal_id}.")
        report = verify(proposal)
        for line in report.lines:
            self.stdout.write(line)
        if not report.ok:
            raise CommandError("Verification FAILED: " + "; ".join(report.problems))
        self.stdout.write(self.style.SUCCESS(f"Proposal {proposal_id} verified."))
