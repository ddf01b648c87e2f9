"""`manage.py purge_archive`: delete archived JIT history older than AUDIT_RETENTION_DAYS (400); the purge
itself goes on the audit trail."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from audit.archive import purge
from core.actor import PORTAL


class Command(BaseCommand):
    help = "Purge archived JIT history older than AUDIT_RETENTION_DAYS, recording the purge in the audit trail."

    def handle(self, *args, **options) -> None:
        deleted = purge(PORTAL)
        self.stdout.write(f"Purged {deleted} archived events older than the retention period.")
