"""`manage.py scan_health`: judge JIT's health across the fleet as the read-only app identity (AUDIT_READER_CLIENT_ID/
SECRET), keep exposure windows and tell admins of new and resolved findings. Idempotent; the worker runs it too."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from vms.watch import scan_as_app


class Command(BaseCommand):
    help = "Scan the fleet's NSGs for JIT findings as the read-only app identity; keep exposure windows."

    def handle(self, *args, **options) -> None:
        found = scan_as_app()
        if found is None:
            raise CommandError(
                "No read-only identity is configured (AUDIT_READER_CLIENT_ID and "
                "AUDIT_READER_CLIENT_SECRET); exposures are kept from admins' reads only."
            )
        self.stdout.write(f"{found[0]} new finding(s), {found[1]} resolved.")
