"""`manage.py verify_audit [--checkpoint COUNT:MAC]`: check the trail's keyed chain, and that it still
reaches a checkpoint taken earlier; report the first break."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from trail.chain import Checkpoint, checkpoint, first_break


class Command(BaseCommand):
    help = "Verify the audit trail's keyed chain (and against a checkpoint); exit 1 at the first break."
    requires_system_checks: list[str] = []  # needs the database and the key, not Azure

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="COUNT:MAC",
            help="a checkpoint from the log or a CSV's first line; may be given more than once",
        )

    def handle(self, *args, **options) -> None:
        try:
            against = [Checkpoint.parse(text) for text in options["checkpoint"]] or [None]
        except ValueError as exc:
            raise CommandError(f"--checkpoint: {exc}.") from None
        for one in against:
            broken = first_break(one)
            if broken is not None:
                raise CommandError(f"Audit trail broken at event {broken.seq}: {broken.why}.")
        head = checkpoint()
        self.stdout.write(f"Audit trail intact: {head.count} events; head checkpoint {head}.")
