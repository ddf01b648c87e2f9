"""`manage.py schedule_housekeeping`: make sure the periodic clean-ups are queued (run before each worker)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from jitportal.tasks import ensure_scheduled


class Command(BaseCommand):
    help = "Queue the next housekeeping run (expired sessions, trail checkpoint) unless one is already queued."

    def handle(self, *args, **options) -> None:
        queued = ensure_scheduled()
        if options["verbosity"]:
            self.stdout.write("Housekeeping queued." if queued else "Housekeeping was already queued.")
