"""The audit stream: the portal's trail, event by event in its order, to each configured SIEM sink — Azure Monitor
Logs Ingestion (for Sentinel) and a signed webhook — from a durable cursor per sink.

At least once, nothing lost: the worker reads the events after the sink's cursor (`StreamCursor.seq`, in the
database), sends them as one batch, and moves the cursor only after the sink said yes. A worker killed mid-batch,
or a sink that is down, leaves the cursor where it was: the batch goes again, with the same stable event ids
(`events.event_id`, from each event's MAC), so a receiver de-duplicates. A failing sink waits 2, 4, 8… up to 300 s
(or its Retry-After) between attempts and never gives up; each run logs how far behind each sink is, and
`/readyz?detail` shows it."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import requests
from django.conf import settings
from django.utils import timezone

from core import gateway
from core.leases import Busy, hold
from core.notify import sign
from trail.models import AuditEvent

from . import events
from .models import StreamCursor

log = logging.getLogger("audit.stream")
LONGEST_WAIT = 300  # seconds between attempts at a failing sink, at most


class SinkFailure(Exception):
    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


class Sink(Protocol):
    name: str

    def send(self, records: list[dict]) -> None:
        """Deliver the batch, or raise SinkFailure (then it is sent again later)."""


class WebhookSink:
    """POST {"events": [...]} as JSON, signed as the portal's notifications are: X-Jitportal-Timestamp and
    X-Jitportal-Signature = "sha256=" + HMAC-SHA256(secret, "<timestamp>." + raw body) (docs/architecture.md)."""

    name = "webhook"

    def __init__(self, url: str, secret: str) -> None:
        self.url, self.secret = url, secret
        self.session = requests.Session()
        self.session.trust_env = False  # the configured URL decides, not a proxy from the environment

    def send(self, records: list[dict]) -> None:
        body = json.dumps({"events": records}, separators=(",", ":"), ensure_ascii=False, default=str).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "jitportal",
            "X-Jitportal-Batch": f"{records[0]['TrailSeq']}-{records[-1]['TrailSeq']}",
        }
        if self.secret:
            moment = int(time.time())
            headers |= {"X-Jitportal-Timestamp": str(moment), "X-Jitportal-Signature": sign(self.secret, moment, body)}
        try:
            answer = self.session.post(
                self.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=settings.AUDIT_STREAM_TIMEOUT_SECONDS,
            )
        except requests.Timeout:
            raise SinkFailure(f"no answer within {settings.AUDIT_STREAM_TIMEOUT_SECONDS} s") from None
        except requests.RequestException as exc:
            raise SinkFailure(f"could not deliver ({type(exc).__name__})") from None
        if not 200 <= answer.status_code < 300:
            value = answer.headers.get("Retry-After", "")
            raise SinkFailure(f"HTTP {answer.status_code}", int(value) if value.isdigit() else None)


class IngestionSink:
    """Azure Monitor's Logs Ingestion API through the gateway (the only code that speaks to Azure)."""

    name = "logs-ingestion"

    def send(self, records: list[dict]) -> None:
        try:
            gateway.upload_logs(records)
        except gateway.GatewayError as error:
            raise SinkFailure(error.message, getattr(error, "retry_after", None)) from None


def sinks() -> list[Sink]:
    """The sinks the settings configure (none by default)."""
    found: list[Sink] = []
    if settings.AUDIT_INGESTION_ENDPOINT:
        found.append(IngestionSink())
    if settings.AUDIT_STREAM_WEBHOOK_URL:
        found.append(WebhookSink(settings.AUDIT_STREAM_WEBHOOK_URL, settings.AUDIT_STREAM_WEBHOOK_SECRET))
    return found


def deliver(sink: Sink, now: datetime | None = None) -> int:
    """Send the next batch after the sink's cursor and move the cursor past it; the number sent (0 when caught up,
    waiting after a failure, or failing now)."""
    now = now or timezone.now()
    cursor, _ = StreamCursor.objects.get_or_create(sink=sink.name)
    if cursor.next_attempt and cursor.next_attempt > now:
        return 0
    rows = list(
        AuditEvent.objects.filter(seq__gt=cursor.seq)
        .order_by("seq")
        .values_list(*events.TRAIL_FIELDS)[: settings.AUDIT_STREAM_BATCH]
    )
    if not rows:
        return 0
    try:
        sink.send([events.record(*row) for row in rows])
    except SinkFailure as failure:
        wait = failure.retry_after if failure.retry_after is not None else min(2 ** (cursor.failures + 1), LONGEST_WAIT)
        StreamCursor.objects.filter(pk=cursor.pk).update(
            failures=cursor.failures + 1, last_error=failure.message[:300], next_attempt=now + timedelta(seconds=wait)
        )
        log.warning(
            "audit stream %s: events %d-%d not delivered (%s); next attempt in %d s",
            sink.name,
            rows[0][0],
            rows[-1][0],
            failure.message,
            wait,
        )
        return 0
    StreamCursor.objects.filter(pk=cursor.pk).update(
        seq=rows[-1][0], delivered_at=now, failures=0, next_attempt=None, last_error=""
    )
    return len(rows)


@dataclass(frozen=True)
class Lag:
    events: int  # trail events not yet delivered
    seconds: float  # age of the oldest of them (0 when none)
    delivered_at: datetime | None
    failures: int
    last_error: str


def lag(sink_name: str, now: datetime | None = None) -> Lag:
    now = now or timezone.now()
    cursor = StreamCursor.objects.filter(sink=sink_name).first()
    seq = cursor.seq if cursor else 0
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    oldest = AuditEvent.objects.filter(seq=seq + 1).values_list("created", flat=True).first() if head > seq else None
    return Lag(
        head - seq,
        (now - oldest).total_seconds() if oldest else 0.0,
        cursor.delivered_at if cursor else None,
        cursor.failures if cursor else 0,
        cursor.last_error if cursor else "",
    )


def deliver_all(max_seconds: float = 60.0) -> dict[str, int]:
    """Catch every configured sink up (for at most `max_seconds`, so a job does not run for ever), one lease per sink
    so that two workers never send the same batch at once; log each one's lag after."""
    sent: dict[str, int] = {}
    for sink in sinks():
        began, sent[sink.name] = time.monotonic(), 0
        try:
            with hold(
                f"audit-stream:{sink.name}",
                "the audit stream",
                settings.POLICY_LEASE_SECONDS,
                wait=settings.POLICY_LEASE_WAIT_SECONDS,
            ):
                while time.monotonic() - began < max_seconds and (count := deliver(sink)):
                    sent[sink.name] += count
        except Busy:
            continue  # another worker is delivering to it right now
        behind = lag(sink.name)
        log.info(
            "audit stream %s: %d events delivered; %d behind (%.0f s)",
            sink.name,
            sent[sink.name],
            behind.events,
            behind.seconds,
            extra={
                "sink": sink.name,
                "delivered": sent[sink.name],
                "behind_events": behind.events,
                "behind_seconds": round(behind.seconds, 1),
                "failures": behind.failures,
            },
        )
    return sent


def health() -> dict:
    """For /readyz?detail: each configured sink's lag (no URL, no secret)."""
    found = {}
    for sink in sinks():
        behind = lag(sink.name)
        found[sink.name] = {
            "behind_events": behind.events,
            "behind_seconds": round(behind.seconds, 1),
            "delivered_at": behind.delivered_at.isoformat() if behind.delivered_at else None,
            "failures": behind.failures,
            "last_error": behind.last_error,
        }
    return {"audit_stream": found}
