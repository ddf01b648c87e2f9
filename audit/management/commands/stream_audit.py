"""`manage.py stream_audit [--once]`: deliver the audit trail to the configured SIEM sinks (audit/stream.py) — once
until caught up, or for ever, pausing AUDIT_STREAM_SECONDS whenever caught up. The worker's `stream_audit` job does
the same every AUDIT_STREAM_SECONDS; this is for running the stream as a process of its own."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.stream import deliver_all, sinks


class Command(BaseCommand):
    help = "Deliver the audit trail's new events to the SIEM sinks the settings configure."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="deliver until caught up (or failing), then stop")

    def handle(self, *args, **options) -> None:
        if not sinks():
            raise CommandError("No sink is configured (AUDIT_INGESTION_ENDPOINT, AUDIT_STREAM_WEBHOOK_URL).")
        while True:
            sent = deliver_all(max_seconds=float("inf") if options["once"] else 60.0)
            if options["once"]:
                self.stdout.write(", ".join(f"{name}: {count} delivered" for name, count in sent.items()))
                return
            if not any(sent.values()):
                time.sleep(settings.AUDIT_STREAM_SECONDS)
