"""Writers that must go one at a time do, on SQLite and on PostgreSQL alike (`.ci/run` runs this file on
both): the audit chain, the per-policy lease, and the background jobs' own schedule."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core.actor import PORTAL
from core.leases import claim
from jitportal.tasks import ensure_scheduled, housekeeping, watch_requests
from trail.chain import record
from trail.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _at_once(count: int, work) -> list:
    """Run work(i) in `count` threads released together; their results."""
    results, start = [None] * count, threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_concurrent_appends_keep_one_chain():
    _at_once(
        6, lambda i: [record(PORTAL, "jit.edit", f"/policy/{i}", "succeeded", details={"n": n}) for n in range(10)]
    )
    assert AuditEvent.objects.count() == 60
    call_command("verify_audit")  # raises CommandError at a fork or a broken link


def test_only_one_of_many_concurrent_claims_gets_the_lease():
    holders = _at_once(6, lambda i: claim("/subscriptions/s/policy/default", f"token-{i}", f"admin {i}", 60))
    assert holders.count(None) == 1, holders  # None: this claimant took it; the others name who holds it


def test_housekeeping_twice_at_once_clears_expired_sessions_and_keeps_one_next_run():
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now() - timedelta(days=1))
    live = SessionStore()
    live.create()
    _at_once(2, lambda i: housekeeping.call())
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    waiting = DBTaskResult.objects.filter(task_path=housekeeping.module_path, status=TaskResultStatus.READY)
    assert waiting.count() == 1


def test_starting_many_workers_at_once_queues_each_periodic_job_once():
    assert True in _at_once(4, lambda i: ensure_scheduled())  # one worker queued each job (maybe not the same one)
    assert DBTaskResult.objects.filter(task_path=housekeeping.module_path).count() == 1
    assert DBTaskResult.objects.filter(task_path=watch_requests.module_path).count() == 1


def test_a_nul_character_in_a_query_never_reaches_the_database(signed_in):
    carol = signed_in("carol")  # PostgreSQL refuses NUL in text and JSON; SQLite stores it
    assert carol.get("/audit/trail", {"action": "\x00", "page": "1\x00"}).status_code == 200
    assert carol.get("/audit/trail.csv", {"actor": "\x00"}).status_code == 200
