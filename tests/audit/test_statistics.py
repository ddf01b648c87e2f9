"""The archive's statistics: renewed after a collection or a purge changed it, so that SQLite reads a report or
CSV over most of the archive in time order instead of sorting every row it selects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit import archive
from audit.models import ArchivedEvent
from audit.report import Filters, matching
from audit.scope import ReadScope

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner and its sqlite_stat1"),
]

SUB = "0000be0c-0000-4000-8000-0000000057a7"


def _fill(count: int) -> None:
    now = timezone.now()
    ArchivedEvent.objects.bulk_create(
        [
            ArchivedEvent(
                event_id=f"e{i}",
                correlation_id=f"c{i}",
                operation="Microsoft.Security/x/write",
                operation_name="w",
                status="Succeeded",
                category="Administrative",
                level="Informational",
                time=now - timedelta(seconds=i),
                subscription_id=SUB,
                caller="bob",
                resource_type="t",
                resource_group=f"rg-{i % 40:02d}",
                resource_id="p",
                scope_subscription=SUB,
                scope_group=f"rg-{i % 40:02d}",
            )
            for i in range(count)
        ],
        batch_size=1000,
    )


def _plan() -> str:
    scope = ReadScope(frozenset((SUB, f"rg-{g:02d}") for g in range(40)))
    events, _ = matching(Filters(timezone.now() - timedelta(days=30), timezone.now(), SUB), scope)
    sql, params = events.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " / ".join(row[-1] for row in cursor.fetchall())


def test_a_csv_over_the_whole_archive_walks_the_time_index_once_the_statistics_are_renewed():
    _fill(3000)
    assert "TEMP B-TREE" in _plan()  # without statistics: every selected row sorted before the first is sent
    archive.restate()
    assert "TEMP B-TREE" not in _plan() and "audit_archi_time" in _plan()


def _statistics() -> set[str]:
    """The tables sqlite_stat1 holds statistics of (none before a first ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return set()
        cursor.execute("SELECT tbl FROM sqlite_stat1")
        return {row[0] for row in cursor.fetchall()}


def test_a_purge_that_deleted_events_renews_them(settings):
    from django.core.management import call_command

    settings.AUDIT_RETENTION_DAYS = 1
    _fill(50)
    call_command("purge_archive")
    assert "audit_archivedevent" not in _statistics()  # nothing purged: nothing to renew
    ArchivedEvent.objects.filter(pk__in=ArchivedEvent.objects.order_by("pk").values("pk")[:20]).update(
        time=timezone.now() - timedelta(days=2)
    )
    call_command("purge_archive")
    assert ArchivedEvent.objects.count() == 30 and "audit_archivedevent" in _statistics()


@pytest.mark.integration
def test_a_collection_that_stored_events_renews_them(sandbox, settings):
    reader = next(a for a in sandbox.info()["apps"] if a["display_name"] == "jitportal audit reader")
    settings.AUDIT_READER_CLIENT_ID, settings.AUDIT_READER_CLIENT_SECRET = reader["client_id"], reader["client_secret"]
    archive.collect_as_app()
    assert ArchivedEvent.objects.exists() and "audit_archivedevent" in _statistics()
