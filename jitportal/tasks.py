"""Background jobs, run by `manage.py db_worker` (django-tasks with its database backend).

Each job is idempotent and safe to run twice at once: several workers may share one queue, and a worker
that dies mid-job leaves it to run again.

The tasks framework has no scheduler, so periodic work schedules itself: `ensure_scheduled()` leaves
exactly one future `housekeeping` run in the queue, and each run calls it first (so a failing clean-up
does not break the chain); `watch_requests` does the same every minute. `manage.py schedule_housekeeping` calls it at every start of a worker, which
also mends a chain broken by an outage.

Notifications are delivered by `deliver_notifications` (in `core.notify`, re-exported here), queued when
a sender's transaction commits and again for the next retry; housekeeping sweeps up anything left due.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from audit.archive import collect_as_app
from core.dblocks import serialize
from core.notify import deliver_notifications
from requests_app.approvals import lapse_due, remind_ending, settle_stalled
from trail.chain import log_checkpoint
from vms.lease import Busy, policy_lease
from vms.watch import scan_as_app

__all__ = ["deliver_notifications", "ensure_scheduled", "housekeeping", "watch_requests"]


def clear_sessions() -> None:
    """Delete expired sessions (a DELETE of what has expired: running it twice deletes nothing more)."""
    call_command("clearsessions")


def collect_archive() -> None:
    """Copy Azure's new JIT activity into the audit archive as the app's read-only identity, when one is
    configured. Stored by Azure's event ids, so twice stores once; the lease keeps two workers from
    explaining the same new events at once (and is no database lock held across Azure calls)."""
    try:
        with policy_lease("audit-archive-collection", "the archive collector"):
            collect_as_app()
    except Busy:
        pass  # another worker is collecting right now


def scan_health() -> None:
    """JIT's health across the fleet as the app's read-only identity sees it, when one is configured: new findings
    and resolved ones are kept as exposure windows and told to admins once (vms.exposures; idempotent)."""
    try:
        with policy_lease("health-scan", "the health scan"):
            scan_as_app()
    except Busy:
        pass  # another worker is scanning right now


def checkpoint_trail() -> None:
    """Log the audit trail's head, so that a later deletion of its newest events can be caught; only reads."""
    log_checkpoint()


@task()
def housekeeping() -> None:
    _schedule(housekeeping, settings.HOUSEKEEPING_SECONDS)
    clear_sessions()
    deliver_notifications.call()  # what is left due (a delivery task lost, say), and a run for the next retry
    collect_archive()
    scan_health()
    checkpoint_trail()


@task()
def watch_requests() -> None:
    """Every minute: expire requests nobody decided on in time, tell requesters their window ends soon, and settle
    requests whose opening was cut short."""
    _schedule(watch_requests, settings.WATCH_REQUESTS_SECONDS)
    lapse_due()
    remind_ending()
    settle_stalled()


def ensure_scheduled() -> bool:
    """Leave one future run of each periodic job waiting unless one already waits; True when this enqueued any."""
    queued = _schedule(housekeeping, settings.HOUSEKEEPING_SECONDS)
    return _schedule(watch_requests, settings.WATCH_REQUESTS_SECONDS) or queued


def _schedule(job, seconds: int) -> bool:
    with transaction.atomic():
        serialize(f"schedule {job.module_path}")  # two workers starting at once must not both enqueue
        if DBTaskResult.objects.filter(task_path=job.module_path, status=TaskResultStatus.READY).exists():
            return False
        job.using(run_after=timezone.now() + timedelta(seconds=seconds)).enqueue()
        return True
