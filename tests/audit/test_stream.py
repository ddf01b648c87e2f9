"""The audit stream: the trail's events, each with a stable id and an event code, mapped to OCSF, delivered at least
once from a durable cursor to a signed webhook on loopback and to the sandbox's Logs Ingestion endpoint — through a
sink's outage and a worker killed mid-batch, with nothing lost and no event under two ids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from audit import events, stream
from audit.models import StreamCursor
from core import gateway
from core.actor import PORTAL
from tests.notify_servers import WEBHOOK_SECRET
from trail.chain import record
from trail.models import AuditEvent

VM = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/"
POLICY = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-dev/providers/Microsoft.Security/"
    "locations/westeurope/jitNetworkAccessPolicies/default"
)


def _request(number: int, outcome: str = "opened", **more) -> AuditEvent:
    """A request the portal opened: dev-02:5986 and dev-06:22, as the trail keeps it."""
    return record(
        PORTAL,
        "access.request",
        POLICY,
        outcome,
        correlation_id=f"c-{number}",
        details={
            "request": number,
            "requester": "alice@contoso.test",
            "source": "203.0.113.50",
            "justification": f"OPS-{number}",
            "minutes": 60,
            **more,
            "items": [
                {
                    "vm": VM + "dev-02",
                    "port": 5986,
                    "end": "2026-12-02T19:00:00+00:00",
                    "source": "203.0.113.50",
                    "status": "opened",
                    "message": "",
                    "correlation_id": f"c-{number}",
                },
                {
                    "vm": VM + "dev-06",
                    "port": 22,
                    "end": "2026-12-02T18:30:00+00:00",
                    "source": "203.0.113.50",
                    "status": "opened",
                    "message": "",
                    "correlation_id": f"c-{number}",
                },
            ],
        },
    )


def _row(event: AuditEvent) -> dict:
    return events.record(*AuditEvent.objects.filter(pk=event.pk).values_list(*events.TRAIL_FIELDS).get())


@pytest.mark.django_db
def test_a_request_is_user_access_management_with_requester_pairs_window_and_the_trails_mac():
    event = _request(1)
    row = _row(event)
    assert row["EventCode"] == "JIT100I" and row["EventType"] == "access.granted"
    assert row["RequestedBy"] == "alice@contoso.test" and row["Ports"] == ["dev-02:5986", "dev-06:22"]
    assert row["WindowEnd"] == "2026-12-02T19:00:00+00:00" and row["Justification"] == "OPS-1"
    assert row["TrailMac"] == event.mac and row["EventId"] == events.event_id(event.mac)
    assert row["Ocsf"]["class_uid"] == 3005 and row["Ocsf"]["activity_id"] == 1 and row["Ocsf"]["type_uid"] == 300501
    assert row["Ocsf"]["metadata"]["uid"] == row["EventId"] and row["Ocsf"]["metadata"]["correlation_uid"] == "c-1"


@pytest.mark.django_db
def test_success_failure_extension_and_early_end_have_codes_of_their_own():
    assert _row(_request(1, "failed"))["EventCode"] == "JIT100E"
    assert _row(_request(2, extends=1))["EventCode"] == "JIT101I"
    ended = record(PORTAL, "access.end", POLICY, "ended early", details={"request": 2, "items": []})
    assert _row(ended)["EventCode"] == "JIT102I" and _row(ended)["Ocsf"]["activity_id"] == 2  # Revoke Privileges
    removed = record(PORTAL, "jit.remove", POLICY, "succeeded", details={"before": {}, "after": {}})
    assert _row(removed)["EventCode"] == "JIT202I" and _row(removed)["Ocsf"]["class_uid"] == 3004
    assert len({(k.number) for k in events.KINDS}) == len(events.KINDS)  # one number per kind


@pytest.fixture
def webhook_stream(webhook_receiver, settings):
    settings.AUDIT_STREAM_WEBHOOK_URL, settings.AUDIT_STREAM_WEBHOOK_SECRET = webhook_receiver.url, WEBHOOK_SECRET
    settings.AUDIT_INGESTION_ENDPOINT = ""
    settings.AUDIT_STREAM_BATCH = 4
    return webhook_receiver


def _received(receiver) -> list[dict]:
    return [e for post in receiver.requests for e in post.json()["events"]]


@pytest.mark.django_db
def test_the_webhook_gets_signed_batches_in_order_and_the_cursor_moves(webhook_stream):
    made = [_request(i) for i in range(10)]
    assert stream.deliver_all() == {"webhook": 10}
    assert len(webhook_stream.requests) == 3 and all(post.verifies(WEBHOOK_SECRET) for post in webhook_stream.requests)
    assert [e["TrailSeq"] for e in _received(webhook_stream)] == [e.seq for e in made]
    assert webhook_stream.requests[0].headers["X-Jitportal-Batch"] == f"{made[0].seq}-{made[3].seq}"
    assert StreamCursor.objects.get(sink="webhook").seq == made[-1].seq
    assert stream.deliver_all() == {"webhook": 0}  # caught up: nothing sent twice


@pytest.mark.django_db
def test_a_sink_outage_loses_nothing_and_the_batch_goes_again_with_the_same_ids(webhook_stream):
    made = [_request(i) for i in range(6)]
    webhook_stream.fail_next(2, 503)
    assert stream.deliver_all() == {"webhook": 0}
    cursor = StreamCursor.objects.get(sink="webhook")
    assert cursor.seq == 0 and cursor.failures == 1 and cursor.last_error == "HTTP 503"
    assert stream.lag("webhook").events == 6
    later = timezone.now() + timedelta(minutes=10)
    assert stream.deliver(stream.sinks()[0], later) == 0  # the second failure
    assert stream.deliver(stream.sinks()[0], later + timedelta(minutes=10)) == 4
    assert stream.deliver(stream.sinks()[0], later + timedelta(minutes=10)) == 2
    ids = [(e["TrailSeq"], e["EventId"]) for e in _received(webhook_stream)]
    assert len(set(ids)) == 6 and {seq for seq, _ in ids} == {e.seq for e in made}  # resent, never renamed
    assert StreamCursor.objects.get(sink="webhook").failures == 0


@pytest.mark.django_db
def test_readyz_detail_shows_the_streams_lag_to_operators_only(webhook_stream, client):
    [_request(i) for i in range(3)]
    detail = client.get("/readyz?detail", REMOTE_ADDR="127.0.0.1").json()
    assert detail["audit_stream"]["webhook"]["behind_events"] == 3
    assert "secret" not in json.dumps(detail).lower() and webhook_stream.url not in json.dumps(detail)
    outside = client.get("/readyz?detail", REMOTE_ADDR="198.51.100.7")
    assert outside.content in (b"ok\n", b"unavailable\n")  # the plain probe


# --- Azure Monitor Logs Ingestion, against the sandbox --------------------------------------------------------


@pytest.fixture
def ingestion_stream(sandbox, settings):
    info = sandbox.info()
    reader = next(a for a in info["apps"] if a["display_name"] == "jitportal audit reader")
    settings.AUDIT_INGESTION_ENDPOINT = info["logs_ingestion"]["endpoint"]
    settings.AUDIT_INGESTION_RULE_ID = info["logs_ingestion"]["rule_id"]
    settings.AUDIT_INGESTION_STREAM = info["logs_ingestion"]["stream"]
    settings.AUDIT_INGESTION_CLIENT_ID, settings.AUDIT_INGESTION_CLIENT_SECRET = (
        reader["client_id"],
        reader["client_secret"],
    )
    settings.AUDIT_STREAM_WEBHOOK_URL = ""
    gateway.ingestion._client.cache_clear()
    yield sandbox
    gateway.ingestion._client.cache_clear()


def _ingested(sandbox) -> list[dict]:
    return sandbox.control("GET", "ingested")["records"]


@pytest.mark.integration
@pytest.mark.django_db
def test_events_arrive_in_the_logs_ingestion_stream_as_the_app_identity(ingestion_stream):
    made = [_request(i) for i in range(3)]
    assert stream.deliver_all() == {"logs-ingestion": 3}
    arrived = _ingested(ingestion_stream)
    assert [r["EventId"] for r in arrived] == [events.event_id(e.mac) for e in made]
    assert arrived[0]["EventCode"] == "JIT100I" and arrived[0]["Ports"] == ["dev-02:5986", "dev-06:22"]
    assert arrived[0]["Ocsf"]["class_uid"] == 3005 and arrived[0]["TrailMac"] == made[0].mac


@pytest.mark.integration
@pytest.mark.django_db
def test_a_throttled_ingestion_waits_for_retry_after_and_then_delivers(ingestion_stream):
    ingestion_stream.control(
        "POST", "faults", {"operation": "ingestion.upload", "kind": "429", "count": 1, "retry_after": 42}
    )
    _request(1)
    assert stream.deliver_all() == {"logs-ingestion": 0}
    cursor = StreamCursor.objects.get(sink="logs-ingestion")
    assert "throttling" in cursor.last_error and 41 <= (cursor.next_attempt - timezone.now()).total_seconds() <= 42
    assert stream.deliver(stream.sinks()[0], timezone.now() + timedelta(seconds=43)) == 1
    assert len(_ingested(ingestion_stream)) == 1


@pytest.mark.integration
@pytest.mark.django_db
def test_an_identity_without_the_publisher_role_is_refused_and_nothing_moves(ingestion_stream, settings):
    portal_app = next(a for a in ingestion_stream.info()["apps"] if a["display_name"] == "jitportal")
    settings.AUDIT_INGESTION_CLIENT_ID, settings.AUDIT_INGESTION_CLIENT_SECRET = (
        portal_app["client_id"],
        portal_app["client_secret"],
    )
    _request(1)
    assert stream.deliver_all() == {"logs-ingestion": 0}
    assert "Monitoring Metrics Publisher" in StreamCursor.objects.get(sink="logs-ingestion").last_error
    assert _ingested(ingestion_stream) == []


# --- a worker killed mid-batch --------------------------------------------------------------------------------


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "stream_audit", "--once"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_resends_under_the_same_ids(webhook_receiver, settings):
    if connection.vendor != "sqlite":
        pytest.skip("the worker process is pointed at the test database by its SQLite file")
    made = [_request(i) for i in range(25)]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "jitportal.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_PATH": connection.settings_dict["NAME"],
        "AUDIT_STREAM_WEBHOOK_URL": webhook_receiver.url,
        "AUDIT_STREAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "AUDIT_STREAM_BATCH": "10",
        "POLICY_LEASE_SECONDS": "10",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
    }
    env.pop("DATABASE_URL", None)
    webhook_receiver.delay = 30  # the second batch is received, and its answer never comes before the kill
    webhook_receiver.fail_next(0)
    first = _worker(env)
    deadline = time.monotonic() + 60
    while not webhook_receiver.requests and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # mid-batch: the sink has the batch, the worker never heard back
    first.wait(timeout=10)
    assert len(webhook_receiver.requests) == 1, first.stderr.read().decode()[-3000:]
    assert StreamCursor.objects.filter(sink="webhook", seq__gt=0).count() == 0
    webhook_receiver.delay = 0
    second = _worker(env)  # waits (POLICY_LEASE_WAIT_SECONDS) for the dead worker's lease to lapse
    assert second.wait(timeout=60) == 0, second.stderr.read().decode()
    received = _received(webhook_receiver)
    by_seq: dict[int, set[str]] = {}
    for e in received:
        by_seq.setdefault(e["TrailSeq"], set()).add(e["EventId"])
    assert set(by_seq) == {e.seq for e in made}  # every event delivered
    assert all(len(ids) == 1 for ids in by_seq.values())  # none twice under different ids
    assert len(received) == 35  # the killed batch of ten went twice
    assert StreamCursor.objects.get(sink="webhook").seq == made[-1].seq
