"""`manage.py verify_audit`: check the audit trail's hash chain and report the first broken link."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.trail import first_broken_link


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit 1 at the first broken link."

    def handle(self, *args, **options) -> None:
        broken = first_broken_link()
        if broken is not None:
            event_id, why = broken
            raise CommandError(f"Audit trail broken at event {event_id}: {why}.")
        self.stdout.write(f"Audit trail intact: {AuditEvent.objects.count()} events.")
