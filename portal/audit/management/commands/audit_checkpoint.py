from django.core.management.base import BaseCommand, CommandError

from portal.audit import anchor


class Command(BaseCommand):
    help = (
        "Write a checkpoint of the audit chain's head to AUDIT_CHECKPOINT_FILE (and mail it "
        "to AUDIT_CHECKPOINT_EMAILS with --mail). Beat does this by itself when the head moves."
    )

    def add_arguments(self, parser):
        parser.add_argument("--mail", action="store_true", help="mail it now as well")

    def handle(self, *args, **options):
        if anchor.checkpoint_file() is None and not anchor.emails():
            raise CommandError("Set AUDIT_CHECKPOINT_FILE or AUDIT_CHECKPOINT_EMAILS first.")
        point = anchor.write(force=True, mail=options["mail"] or None)
        if point is None:
            self.stdout.write("The audit log is empty: nothing to checkpoint.")
            return
        self.stdout.write(f"Checkpoint: entry #{point.id} {point.hash} ({point.count} entries).")
