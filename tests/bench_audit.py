"""`make bench` (after the VM tabs): the audit archive at volume.

Starts its own sandbox with a generated fleet carrying request history and Activity Log events, signs Carol
in through the real MSAL flow, then measures:
- collection: the first (the whole history), the second after 1,000 new events (cost should follow them), a
  third with nothing new (the tails alone) and a fourth after 10 new events (a minute's worth);
- the fleet report's first page over the archived events (goal ≤ 300 ms), and the archive's share of it;
- a CSV of 1,000,000 archived rows (filled directly with bulk_create, then the statistics renewed as a collection
  storing them would), streamed in a fresh process so that
  its peak RSS is the export's own (goals ≥ 50,000 rows/s, peak RSS < 150 MB).
Not a test: numbers, to compare before and after a change.

    python -m tests.bench_audit [VMS SUBSCRIPTIONS EVENTS CSV_ROWS]   (default 10000 50 100000 1000000)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

if len(sys.argv) > 2 and sys.argv[1] == "csv":  # the child: the same database as its parent
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"]["NAME"] = sys.argv[2]
    settings.DEBUG = False  # measured as served: DEBUG logs every query
else:
    django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

CSV_SUBSCRIPTION = "0000be0c-0000-4000-8000-00000000c5e0"  # the CSV rows' own, apart from the fleet's


def timed(work) -> tuple[float, object]:
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def slow_control(sandbox, path: str, payload: dict) -> None:
    """A control call that may take minutes (generating and saving a large world)."""
    answer = sandbox.http().post(f"{sandbox.base_url}/_sandbox/{path}", json=payload, timeout=1800)
    answer.raise_for_status()


def collect(client: Client) -> tuple[float, int]:
    from audit import archive
    from core import gateway

    subscriptions = gateway.list_subscriptions(client.session)
    collector = f"user:{client.session['_auth_user_id']}"  # Carol's own, as her report views collect
    seconds, collected = timed(
        lambda: archive.collect(gateway.UserCredential(client.session), collector, subscriptions)
    )
    return seconds, collected.new_events


def archive_share(client: Client) -> float:
    """The report's own work without Azure: select, count, one page explained, as the view does it."""
    from django.core.paginator import Paginator

    from audit.forms import AuditFilterForm
    from audit.report import matching, report_rows
    from audit.scope import scope_of
    from vms.inventory import get_inventory

    def page() -> int:
        scope = scope_of(get_inventory(client.session, int(client.session["_auth_user_id"])))
        events, hidden = matching(AuditFilterForm({}).filters(), scope)
        found = Paginator(events, 50).get_page(1)
        return len(report_rows(found.object_list, {}, scope)) + found.paginator.count + hidden

    return min(timed(page)[0] for _ in range(5))


def fill_csv_rows(count: int) -> None:
    """`count` archived events with one touched VM each, straight into the tables."""
    from audit.models import ArchivedEvent, ArchivedTouch

    now = datetime.now(UTC)
    batch = 20_000
    for first in range(0, count, batch):
        events = [
            ArchivedEvent(
                event_id=str(uuid.uuid4()),
                correlation_id=str(uuid.uuid4()),
                operation="Microsoft.Security/locations/jitNetworkAccessPolicies/write",
                operation_name="Create or Update JIT Network Access Policy",
                status="Succeeded",
                category="Administrative",
                level="Informational",
                time=now - timedelta(seconds=i * 20),
                subscription_id=CSV_SUBSCRIPTION,
                caller="bob@contoso.test",
                resource_type="Microsoft.Security/locations/jitNetworkAccessPolicies",
                resource_group=f"rg-{i % 40:02d}",
                resource_id=f"/subscriptions/{CSV_SUBSCRIPTION}/resourceGroups/rg-{i % 40:02d}"
                "/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default",
                client_ip="198.51.100.20",
                scope_subscription=CSV_SUBSCRIPTION,
                scope_group=f"rg-{i % 40:02d}",
                explained_by="archived configurations",
            )
            for i in range(first, min(count, first + batch))
        ]
        ArchivedEvent.objects.bulk_create(events, batch_size=2000)
        ArchivedTouch.objects.bulk_create(
            [
                ArchivedTouch(
                    event=e,
                    vm_id=f"{e.resource_id}/vm-{n:05d}".lower(),
                    vm_name=f"vm-{n:05d}",
                    line=f"vm-{n:05d}: port 22 max 3 h → 1 h",
                )
                for n, e in enumerate(events, first)
            ],
            batch_size=2000,
        )


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM): unlike getrusage's ru_maxrss, it does not carry over the forking
    parent's peak across exec."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def export_csv() -> None:
    """The child: stream every CSV row of the filled subscription; print rows, seconds, peak RSS in MB."""
    from audit import csv_export
    from audit.report import Filters, matching
    from audit.scope import ReadScope

    baseline = peak_rss_mb()  # the portal's code, loaded
    scope = ReadScope(frozenset((CSV_SUBSCRIPTION, f"rg-{g:02d}") for g in range(40)))
    events, _ = matching(Filters(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC), CSV_SUBSCRIPTION), scope)
    began, rows, size = time.perf_counter(), -1, 0
    digest = hashlib.sha256()  # as the download does, for its evidence manifest
    for line in csv_export.stream(
        csv_export.AZURE_COLUMNS + csv_export.PORTAL_COLUMNS, csv_export.report_lines(events, {}, scope)
    ):
        data = line.encode()
        digest.update(data)
        rows += line.count("\n")
        size += len(data)
    seconds = time.perf_counter() - began
    print(rows, f"{seconds:.3f}", f"{baseline:.0f}", f"{peak_rss_mb():.0f}", size)


def main(vms: int = 10_000, subscriptions: int = 50, events: int = 100_000, csv_rows: int = 1_000_000) -> None:
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    from audit import archive
    from core import gateway
    from tests.conftest import PORTAL_HOST, sign_in
    from tests.sandbox_client import start

    setup_test_environment(debug=False)  # measured as served: DEBUG logs every query
    # The sandbox (one process) answers a generated world's big lists slowly while it also serves 16 at once:
    # a call given up and retried would be measured twice.
    settings.AZURE_TIMEOUT_SECONDS = 600
    call_command("migrate", verbosity=0)
    sandbox = start(settings.TEST_SANDBOX_PORT, settings.SANDBOX_DATA_DIR)
    try:
        made, _ = timed(
            lambda: slow_control(sandbox, "fleet", {"vms": vms, "subscriptions": subscriptions, "events": events})
        )
        # ARM pages the Activity Log at 200; a bigger page spares the sandbox rescanning its whole log per page.
        sandbox.control("POST", "config", {"page_size": 5000})
        client = Client(HTTP_HOST=PORTAL_HOST)
        sign_in(client, sandbox, "carol")
        client.get("/vms/")  # the inventory (Carol's read scope), cached as on any page after the first
        first, stored = collect(client)
        sandbox.advance("PT1H")
        slow_control(sandbox, "history", {"events": 1000, "within": "PT50M"})
        second, added = collect(client)
        idle, _ = collect(client)  # nothing new: the tails alone
        slow_control(sandbox, "history", {"events": 10, "within": "PT5M"})
        few, few_added = collect(client)  # a minute's worth: each new event's own policy read again
        # A view that reads Azure's tail (the first within AUDIT_COLLECT_SECONDS), then views within that time.
        tail_views = []
        for _ in range(3):
            cache.delete_many(
                [
                    f"audit-collected:user:{client.session['_auth_user_id']}:{s.subscription_id.lower()}"
                    for s in gateway.list_subscriptions(client.session)
                ]
            )
            tail_views.append(timed(lambda: client.get("/audit/"))[0])
        report = min(timed(lambda: client.get("/audit/"))[0] for _ in range(5))
        own = archive_share(client)
        fill, _ = timed(lambda: fill_csv_rows(csv_rows))
        archive.restate()  # as the collections that would have stored them do
        connection.close()
        child = subprocess.run(
            [sys.executable, "-m", "tests.bench_audit", "csv", settings.DATABASES["default"]["NAME"]],
            capture_output=True,
            text=True,
            check=True,
        )
        rows, seconds, baseline, rss, size = child.stdout.split()[-5:]
        print(
            f"fleet: {vms} VMs over {subscriptions} subscriptions, {events} past requests (generated in {made:.1f} s)"
        )
        print(
            f"collection, first: {stored} events in {first:.1f} s ({first / stored * 1000:.1f} ms per event); second: "
            f"{added} new events in {second:.2f} s ({second / first:.1%} of the first; "
            f"{(second - idle) / added * 1000:.1f} ms per new event over the {idle:.2f} s of a collection with "
            f"nothing new); {few_added} new events in {few:.2f} s "
            f"({(few - idle) / max(few_added, 1) * 1000:.0f} ms per new event over nothing new)"
        )
        print(
            f"report, first page over {stored + added} archived events: {report * 1000:.0f} ms "
            f"(goal 300 ms), of which the archive's own work {own * 1000:.0f} ms; a view that reads Azure's tail "
            f"(once per {settings.AUDIT_COLLECT_SECONDS} s per person and subscription): best "
            f"{min(tail_views) * 1000:.0f} ms (all {', '.join(f'{t * 1000:.0f}' for t in tail_views)})"
        )
        print(
            f"CSV: {int(rows):,} rows ({int(size) / 1e6:.0f} MB) in {float(seconds):.1f} s = "
            f"{int(rows) / float(seconds):,.0f} rows/s (goal 50,000), peak RSS {rss} MB (goal < 150; {baseline} MB "
            "before the first row: the portal's code loaded); "
            f"filling the rows took {fill:.0f} s"
        )
    finally:
        sandbox.process.terminate()
        sandbox.process.wait(timeout=30)
        shutil.rmtree(settings.SANDBOX_DATA_DIR, ignore_errors=True)  # the world alone is most of a GB


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "csv":
        export_csv()
    else:
        main(*(int(a) for a in sys.argv[1:]))
