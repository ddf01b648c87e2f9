"""Exposure windows are part of the audit archive (#22: "the archive keeps when each exposure started and ended, so
the auditors' report can show exposure windows"): rows of the report, its CSV and JSON lines with their event codes,
scoped to the auditor's Azure read scope like Azure's events, and purged with the archive's retention.

Through the real MSAL and azure-mgmt-network clients against the sandbox."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.archive import purge, take_exposures
from audit.models import ArchivedEvent
from core.actor import PORTAL
from tests.audit.downloads import body, csv_download, manifest_of
from tests.conftest import PORTAL_HOST, sign_in
from vms.models import Exposure

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def monitor_window(view) -> Exposure:
    """A window on mon-01 (rg-monitor, which Grace cannot read; nobody in the demo may write its NSG, so the window
    is written as the health check keeps it)."""
    sub = view.sub("Contoso Shared Services").lower()
    now = timezone.now()
    return Exposure.objects.create(
        key="mon-01|22",
        vm_id=f"/subscriptions/{sub}/resourceGroups/rg-monitor/providers/Microsoft.Compute/virtualMachines/mon-01",
        vm_name="mon-01",
        subscription_id=sub,
        resource_group="rg-monitor",
        port=22,
        state="exposed",
        severity="critical",
        detail="open to the Internet: allow-ssh-anywhere, priority 310, from Any",
        started=now,
        last_seen=now,
    )


def person(sandbox, key: str) -> Client:
    client = Client(HTTP_HOST=PORTAL_HOST)
    sign_in(client, sandbox, key)
    return client


def test_exposure_windows_are_rows_of_the_report_csv_and_json_lines_in_the_readers_scope(sandbox, view):
    bob = person(sandbox, "bob")
    bob.get("/vms/")  # an admin's read opens the windows
    # Fixed behind the portal's back: sql-02's window ends. (The sandbox clock stays: the report's range ends at the
    # portal's today, which an hour on would leave behind near midnight.)
    view.clients.network(view.sub("Contoso Production")).security_rules.begin_delete(
        "rg-sql", "sql-02-nsg", "allow-ssh"
    ).result()
    bob.post("/vms/refresh")
    bob.get("/vms/")
    monitor_window(view)
    grace = person(sandbox, "grace")
    page = grace.get("/audit/", {"operation": "exposure"})
    rows = page.context["rows"]
    shown = {(r.vms, r.meaning) for r in rows}
    assert {("sql-02", "exposure started"), ("sql-02", "exposure ended"), ("dev-06", "exposure started")} <= shown
    assert not any(r.vms.startswith("mon-") for r in rows)  # rg-monitor is outside her read scope…
    assert page.context["hidden"] == 1  # …and counted
    ended = next(r for r in rows if (r.vms, r.meaning) == ("sql-02", "exposure ended"))
    assert ended.change.startswith("port 22 no longer bypassed (critical); exposed ")
    assert "allow-ssh, priority 290, from Internet, on sql-02-nsg (NIC)" in ended.change
    text = page.content.decode()
    assert "Exposure started (JIT health check)" in text and "Exposure ended (JIT health check)" in text

    _, lines, manifest = csv_download(grace, "/audit/report.csv", {"operation": "exposure"})
    assert {(r["VM"], r["Meaning"], r["Status"]) for r in lines} >= {
        ("sql-02", "exposure started", "Active"),
        ("sql-02", "exposure ended", "Resolved"),
    }
    assert not any(r["VM"].startswith("mon-") for r in lines)
    assert manifest["coverage"]["rows_hidden_by_read_scope"] == 1

    response = grace.get("/audit/report.jsonl", {"operation": "exposure"})
    records = [json.loads(line) for line in body(response).decode().splitlines()]
    manifest_of(grace, response)
    codes = {(r["vms"], r["event_code"], r["event_type"]) for r in records}
    assert {("sql-02", "JIT500W", "health.exposure_started"), ("sql-02", "JIT501I", "health.exposure_ended")} <= codes

    carol = person(sandbox, "carol")  # Reader everywhere: rg-monitor's windows are hers to read
    assert any(
        r.vms == "mon-01" for r in carol.get("/audit/", {"operation": "exposure", "vm": "mon-01"}).context["rows"]
    )


def test_taking_them_twice_stores_once_and_the_end_follows_the_start(signed_in, view):
    signed_in("bob").get("/vms/")
    take_exposures()
    count = ArchivedEvent.objects.filter(meaning="exposure started").count()
    assert count == Exposure.objects.count() and take_exposures() == 0
    window = Exposure.objects.get(vm_name="dev-06", port=22)
    window.ended = window.started + timedelta(hours=2)
    window.save(update_fields=["ended"])
    assert take_exposures() == 1
    assert ArchivedEvent.objects.filter(event_id=f"jitportal-exposure-{window.pk}-end").get().time == window.ended
    assert ArchivedEvent.objects.filter(meaning="exposure started").count() == count


def test_the_archives_purge_takes_exposure_windows_older_than_the_retention(signed_in, settings):
    signed_in("bob").get("/vms/")
    take_exposures()
    old = Exposure.objects.get(vm_name="dev-06", port=22)
    long_ago = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS + 10)
    Exposure.objects.filter(pk=old.pk).update(started=long_ago, ended=long_ago + timedelta(hours=1))
    ArchivedEvent.objects.filter(event_id=f"jitportal-exposure-{old.pk}-start").update(time=long_ago)
    take_exposures()  # its end, long ago too
    purge(PORTAL)
    assert not Exposure.objects.filter(pk=old.pk).exists()
    assert not ArchivedEvent.objects.filter(event_id__startswith=f"jitportal-exposure-{old.pk}-").exists()
    assert Exposure.objects.filter(vm_name="sql-02").exists()  # open, recent: kept
    from trail.models import AuditEvent

    assert AuditEvent.objects.get(action="archive.purge").details["deleted"]["exposure_windows"] == 1
