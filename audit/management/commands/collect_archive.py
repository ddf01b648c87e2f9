"""`manage.py collect_archive`: copy the new tail of Azure's JIT history into the archive as the read-only app
identity (AUDIT_READER_CLIENT_ID/SECRET). Idempotent; the worker may run it every few minutes."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.archive import collect_as_app


class Command(BaseCommand):
    help = "Collect Azure's JIT activity, request history and policy configurations into the audit archive."

    def handle(self, *args, **options) -> None:
        collected = collect_as_app()
        if collected is None:
            raise CommandError(
                "No read-only identity is configured (AUDIT_READER_CLIENT_ID and "
                "AUDIT_READER_CLIENT_SECRET); the archive fills from auditors' and admins' reads only."
            )
        for name, why in collected.unread:
            self.stderr.write(f"{name} could not be read: {why}")
        self.stdout.write(f"Archived {collected.new_events} new events.")
