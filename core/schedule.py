"""The one scheduling mechanism: a job's next run is booked under a lease (`core.leases.book`) before it is
queued, so that any number of workers queue it once, without reading the task queue's own tables. A periodic
job books its next run first thing; a worker that starts books each periodic job's, which mends a chain an
outage broke (its booking lapses with the run that never came)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from .leases import book


def run_at(job, at: datetime, slack: timedelta = timedelta(0)) -> bool:
    """Queue `job` (a django-tasks task) to run at `at` unless a run is booked by `at` + `slack`; True if queued."""
    at = max(at, timezone.now())
    if not book(f"next run of {job.module_path}", at, slack):
        return False
    job.using(run_after=at).enqueue()
    return True


def run_every(job, seconds: int) -> bool:
    """Book and queue the periodic `job`'s next run, `seconds` from now."""
    return run_at(job, timezone.now() + timedelta(seconds=seconds), slack=timedelta(seconds=seconds))
