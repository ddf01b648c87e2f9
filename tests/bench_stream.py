"""`make bench` (after the audit archive): the audit stream at volume.

Fills a fresh database with 100,000 trail events (requests of two VM ports each, as the portal records them), then
delivers them all through the signed webhook sink, in batches of AUDIT_STREAM_BATCH, to a receiver on loopback
running in a process of its own (so that its parsing does not share the sender's GIL), and measures events per
second (goal ≥ 5,000) and the sender's resident memory after the first 10,000 and after the last (goal: flat).
Not a test: numbers, to compare before and after a change.

    python -m tests.bench_stream [EVENTS]   (default 100000)
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import sys
import time
from datetime import UTC, datetime, timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

VM = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/"
POLICY = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-dev/providers/Microsoft.Security/"
    "locations/westeurope/jitNetworkAccessPolicies/default"
)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def fill(count: int) -> None:
    """Trail events as the portal writes them, in pieces (the filling's own memory is not the stream's)."""
    from trail.models import AuditEvent

    began = datetime(2026, 11, 1, tzinfo=UTC)
    for first in range(0, count, 5000):
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    seq=n + 1,
                    created=began + timedelta(seconds=n),
                    actor_name="alice@contoso.test",
                    action="access.request",
                    target=POLICY,
                    outcome="opened",
                    source_ip="203.0.113.50",
                    correlation_id=f"corr-{n:08d}",
                    key_id="bench",
                    previous_mac=f"{n:064x}",
                    mac=f"{n + 1:064x}",
                    details={
                        "request": n + 1,
                        "requester": "alice@contoso.test",
                        "source": "203.0.113.50",
                        "justification": f"OPS-{n}: deploying hotfix",
                        "minutes": 60,
                        "items": [
                            {
                                "vm": VM + f"dev-{n % 50:02d}",
                                "port": port,
                                "end": (began + timedelta(hours=1, seconds=n)).isoformat(),
                                "source": "203.0.113.50",
                                "status": "opened",
                                "message": "",
                                "correlation_id": f"corr-{n:08d}",
                            }
                            for port in (22, 5986)
                        ],
                    },
                )
                for n in range(first, min(first + 5000, count))
            ]
        )


def receive(port: int, ready) -> None:
    """The receiver: read each post whole and answer 204 (what it does with the events is the SIEM's time)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert body.startswith(b'{"events":[{')
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


def main(count: int = 100_000) -> None:
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    from audit import stream

    setup_test_environment(debug=False)
    call_command("migrate", verbosity=0)
    filled = time.perf_counter()
    fill(count)
    filled = time.perf_counter() - filled
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ready = multiprocessing.get_context("fork").Event()
    receiver = multiprocessing.get_context("fork").Process(target=receive, args=(port, ready), daemon=True)
    receiver.start()
    ready.wait(10)
    settings.AUDIT_STREAM_WEBHOOK_URL = f"http://127.0.0.1:{port}/audit"
    settings.AUDIT_STREAM_WEBHOOK_SECRET = "bench-secret"
    settings.AUDIT_INGESTION_ENDPOINT = ""
    sink = stream.sinks()[0]
    try:
        before, sent, at_10k = rss_mb(), 0, 0.0
        began, cpu = time.perf_counter(), time.process_time()
        while count := stream.deliver(sink):
            sent += count
            if not at_10k and sent >= 10_000:
                at_10k = rss_mb()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        after = rss_mb()
        load = os.getloadavg()[0]
    finally:
        receiver.terminate()
        shutil.rmtree(settings.SANDBOX_DATA_DIR, ignore_errors=True)
    print(
        f"audit stream: {sent:,} trail events to a signed webhook on loopback in batches of "
        f"{settings.AUDIT_STREAM_BATCH} in {seconds:.1f} s = {sent / seconds:,.0f} events/s (goal 5,000); the sender's "
        f"CPU {cpu:.1f} s = {sent / cpu:,.0f} events per CPU-second (load average {load:.1f} on "
        f"{os.cpu_count()} cores: other processes' share of the cores is not the stream's); "
        f"sender's RSS {before:.0f} MB before, {at_10k:.0f} MB after 10,000, {after:.0f} MB after all (flat: goal "
        f"within a few MB); filling the trail took {filled:.0f} s"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
