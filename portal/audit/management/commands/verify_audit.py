from django.core.management.base import BaseCommand, CommandError

from portal.audit import anchor
from portal.audit.services import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit log: every entry's keyed hash and link, and the chain against the "
        "checkpoints of its head kept outside the database. Names each problem by kind: "
        "edited, deleted, truncated, rechained."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoints",
            metavar="FILE",
            help="a checkpoint file to compare with (default: AUDIT_CHECKPOINT_FILE), "
            "e.g. a copy kept on another machine",
        )
        parser.add_argument(
            "--head",
            action="append",
            default=[],
            metavar="ID:HASH[:COUNT]",
            help="a checkpoint from elsewhere (the office's mail); may be repeated",
        )

    def handle(self, *args, **options):
        from pathlib import Path

        path = Path(options["checkpoints"]) if options["checkpoints"] else None
        if path is not None and not path.exists():
            raise CommandError(f"No checkpoint file at {path}.")
        points = anchor.read(path)
        try:
            points += [anchor.parse_head(text) for text in options["head"]]
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        report = verify_chain(checkpoints=points)
        if options["verbosity"] >= 2 or not report.intact:
            self._describe(report, path or anchor.checkpoint_file())
        if not report.intact:
            for problem in report.problems:
                self.stderr.write(f"  {problem}")
            kinds = ", ".join(sorted(report.kinds()))
            raise CommandError(
                f"Audit chain broken at entry #{report.broken_at}: {report.reason} "
                f"({report.checked} entries before it are intact; found: {kinds})."
            )
        if not points:
            self.stderr.write(
                "No checkpoints to compare with: deleting the newest entries would go unnoticed."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.entries} entries."))

    def _describe(self, report, path) -> None:
        out = self.stderr if not report.intact else self.stdout
        keyed = report.entries - report.legacy
        out.write(f"{keyed} keyed entries (HMAC-SHA256), {report.legacy} from before the key.")
        newest = report.newest_checkpoint
        where = path or "no checkpoint file"
        if newest is not None:
            out.write(
                f"{report.checkpoints} checkpoints ({where}); the newest names entry "
                f"#{newest.id} ({newest.at})."
            )
        else:
            out.write(f"No checkpoints ({where}).")
