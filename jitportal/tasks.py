"""Background jobs, run by `manage.py db_worker` (django-tasks with its database backend).

Each job is idempotent and safe to run twice at once: several workers may share one queue, and a worker
that dies mid-job leaves it to run again.

The tasks framework has no scheduler, so periodic work books its own next run (`core.schedule`, one lease per
job's next run, so that any number of workers queue it once): each run books the next first thing (a failing
clean-up does not break the chain), and `manage.py schedule_housekeeping` at every start of a worker books
each job, which also mends a chain an outage broke.

Notifications are delivered by `deliver_notifications` (in `core.notify`, re-exported here), queued when
a sender's transaction commits and again for the next retry; housekeeping sweeps up anything left due.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django_tasks import task

from audit.archive import APP_COLLECTION, collect_as_app, take_exposures
from audit.stream import deliver_all, sinks
from core.leases import Busy, hold
from core.notify import deliver_notifications
from core.schedule import run_every
from requests_app.actions import settle_late_openings
from requests_app.approvals import lapse_due, remind_ending, settle_stalled
from trail.chain import log_checkpoint
from vms.settle import settle_due
from vms.watch import scan_as_app

__all__ = ["deliver_notifications", "ensure_scheduled", "housekeeping", "stream_audit", "watch_requests"]


def clear_sessions() -> None:
    """Delete expired sessions (a DELETE of what has expired: running it twice deletes nothing more)."""
    call_command("clearsessions")


def collect_archive() -> None:
    """Copy Azure's new JIT activity into the audit archive as the app's read-only identity, when one is
    configured. Stored by Azure's event ids, so twice stores once; the lease keeps two workers from
    explaining the same new events at once (and is no database lock held across Azure calls)."""
    try:
        with hold(APP_COLLECTION, "the archive collector", settings.POLICY_LEASE_SECONDS, wait=0):
            collect_as_app()
    except Busy:
        pass  # another worker is collecting right now


def scan_health() -> None:
    """JIT's health across the fleet as the app's read-only identity sees it, when one is configured: new findings
    and resolved ones are kept as exposure windows and told to admins once (vms.exposures; idempotent)."""
    try:
        with hold("health-scan", "the health scan", settings.POLICY_LEASE_SECONDS, wait=0):
            scan_as_app()
            take_exposures()  # into the audit archive, so that they are there without anyone reading the report
    except Busy:
        pass  # another worker is scanning right now


def checkpoint_trail() -> None:
    """Log the audit trail's head, so that a later deletion of its newest events can be caught; only reads."""
    log_checkpoint()


@task()
def housekeeping() -> None:
    run_every(housekeeping, settings.HOUSEKEEPING_SECONDS)
    clear_sessions()
    deliver_notifications.call()  # what is left due (a delivery task lost, say), and a run for the next retry
    collect_archive()
    scan_health()
    checkpoint_trail()


@task()
def watch_requests() -> None:
    """Every minute: expire requests nobody decided on in time, tell requesters their window ends soon, settle
    requests whose opening was cut short, and read back changes whose answer was lost (they may land late)."""
    run_every(watch_requests, settings.WATCH_REQUESTS_SECONDS)
    lapse_due()
    remind_ending()
    settle_stalled()
    settle_due()
    settle_late_openings()


@task()
def stream_audit() -> None:
    """Every AUDIT_STREAM_SECONDS while a SIEM sink is configured: deliver the trail's new events to each sink from
    its durable cursor (audit/stream.py)."""
    if not sinks():
        return  # the chain ends; a worker started with a sink configured starts it again
    run_every(stream_audit, settings.AUDIT_STREAM_SECONDS)
    deliver_all()


def ensure_scheduled() -> bool:
    """Book and queue each periodic job's next run unless one is booked; True when this queued any."""
    queued = run_every(housekeeping, settings.HOUSEKEEPING_SECONDS)
    if sinks():
        queued = run_every(stream_audit, settings.AUDIT_STREAM_SECONDS) or queued
    return run_every(watch_requests, settings.WATCH_REQUESTS_SECONDS) or queued
