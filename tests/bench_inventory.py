"""`make bench` (in process, through tests/bench_fleet.py): what a browser cannot separate, on one fleet.

With the sandbox holding a generated fleet at a latency on every ARM call and Carol signed in through the real
MSAL flow, Django's test client (DEBUG off, as served) measures:
- warm pages (every tab, filter, sort and page) with the CPU their thread spent, quiet and beside busy processes;
- an access request for 20 VMs over 6 policies against one initiate round trip (best of ten rounds at least),
  and against a bare client's same initiates;
- the cold page with one subscription at 2 s per call (median of the rounds, against the cold page);
- JIT's health (the NSG list and the evaluator): the cold and warm Configured tab with it and without it,
  alternated round by round, as ratios (the machine is shared: only ratios in one run compare);
- the memory of one cached inventory (traced allocations; bench_fleet prints it for every fleet).
The pages against the floor, in a browser and real server processes, are tests/bench_fleet.py's.
Not a test: numbers, to compare before and after a change.

    python -m tests.bench_inventory [VMS SUBSCRIPTIONS [LATENCY_MS [ROUNDS]]]   (default 10000 100 50 3)
    BENCH_ONLY=health: only JIT health's cost.  BENCH_PROFILE=1 adds pyinstrument's view of a cold and a warm page.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from tests.conftest import PORTAL_HOST, sign_in  # noqa: E402
from tests.sandbox_client import SandboxProcess, start  # noqa: E402

# Pages of 25 rows: every tab, a far page, sorts both ways, filters alone and together.
WARM_VIEWS = (
    "tab=configured",
    "tab=not-configured",
    "tab=unsupported",
    "tab=configured&page=40",
    "tab=configured&sort=-name",
    "tab=not-configured&sort=power_state&page=7",
    "tab=configured&sort=subscription_name&page=3",
    "tab=configured&q=vm-012",
    "tab=configured&power=running&os=Linux",
    "tab=not-configured&region=eastus&sort=-resource_group",
)


def timed_get(client: Client, url: str) -> tuple[float, float]:
    """Seconds for the page, and the CPU seconds this thread spent on it."""
    started, cpu = time.perf_counter(), time.thread_time()
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return time.perf_counter() - started, time.thread_time() - cpu


def access_request(sandbox: SandboxProcess, policies: int, vms: int) -> tuple[float, float]:
    """Seconds for Alice's request for `vms` VMs spread over `policies` JIT policies (one port each), and for a
    bare client sending the same initiates, as many at once (the floor the sandbox itself sets)."""
    from core.actor import Actor
    from core.gateway.auth import UserCredential
    from requests_app.actions import do_submit_request
    from requests_app.plan import Choice, Planned
    from vms.inventory import CONFIGURED, get_inventory

    client = Client(HTTP_HOST=PORTAL_HOST)
    sign_in(client, sandbox, "alice")
    session = client.session
    user = get_user(client)
    inventory = get_inventory(session, user.pk)
    by_policy: dict[str, list] = {}
    for row in inventory.rows:
        if row.tab == CONFIGURED:
            by_policy.setdefault(row.policy_id, []).append(row)
    chosen_policies = list(by_policy.values())[:policies]
    rows = [group[i // policies] for i in range(vms) for group in [chosen_policies[i % policies]]]
    chosen = [Planned(Choice(row, row.ports[0]), "203.0.113.7", timedelta(hours=1)) for row in rows]
    bare = bare_initiates(
        sandbox,
        UserCredential(session).get_token(settings.AZURE_ARM_SCOPE).token,
        rows,
        inventory.azure_clock() + timedelta(hours=1),
    )
    started = time.perf_counter()
    access = do_submit_request(
        Actor(user, session, "203.0.113.7"),
        str(uuid.uuid4()),
        chosen,
        "203.0.113.7",
        timedelta(hours=1),
        "bench",
        inventory.azure_clock(),
    )
    elapsed = time.perf_counter() - started
    assert access.status == "opened", access.status
    return elapsed, bare


def bare_initiates(sandbox: SandboxProcess, token: str, rows: list, end) -> float:
    """Seconds for a bare `requests` client's initiates of `rows`' first ports, one per policy, all at once."""
    http = requests.Session()
    http.trust_env = False
    http.verify = str(sandbox.ca_path)
    http.headers["Authorization"] = f"Bearer {token}"
    by_policy: dict[str, list] = {}
    for row in rows:
        by_policy.setdefault(row.policy_id, []).append(row)
    stamp = end.strftime("%Y-%m-%dT%H:%M:%SZ")

    def initiate(policy_id: str, group: list) -> None:
        body = {
            "justification": "bench floor",
            "virtualMachines": [
                {
                    "id": r.vm_id,
                    "ports": [
                        {"number": r.ports[0].number, "endTimeUtc": stamp, "allowedSourceAddressPrefix": "203.0.113.7"}
                    ],
                }
                for r in group
            ],
        }
        answer = http.post(
            f"{sandbox.base_url}{policy_id}/initiate", params={"api-version": "2020-01-01"}, json=body, timeout=60
        )
        answer.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(by_policy)) as pool:
        for future in [pool.submit(initiate, pid, group) for pid, group in by_policy.items()]:
            future.result()
    return time.perf_counter() - started


def inventory_bytes(client: Client) -> float:
    """MB held by one cached inventory: traced allocations of a cold load that survive it."""
    from vms import inventory

    client.post("/vms/refresh")
    inventory.forget()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    shown(client, "/vms/?tab=configured")
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    kept = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return kept / 2**20


def shown(client: Client, url: str):
    """The VM page with its rows: a page that shows the load's progress instead is asked again, as its browser does."""
    page = client.get(url)
    while page.status_code == 200 and "inventory" not in page.context:
        page = client.get(url)
    assert page.status_code == 200, page.status_code
    return page


def cold_load(client: Client, url: str) -> tuple[float, int]:
    """Seconds for the page after Refresh, and how many subscriptions it showed as still loading. Garbage from
    before is collected first: a full collection over the last fleet's objects costs a one-off page ~0.5 s."""
    client.post("/vms/refresh")
    gc.collect()
    started = time.perf_counter()
    page = shown(client, url)
    elapsed = time.perf_counter() - started
    inventory = page.context["inventory"]
    return elapsed, len(inventory.loading.pending()) if inventory.loading is not None else 0


def warm_views(client: Client) -> dict[str, tuple[float, float]]:
    """Per view, the best of three: seconds, and CPU seconds."""
    timings = {view: [timed_get(client, f"/vms/?{view}") for _ in range(3)] for view in WARM_VIEWS}
    return {view: (min(t for t, _ in times), min(c for _, c in times)) for view, times in timings.items()}


@contextmanager
def without_health() -> Iterator[None]:
    """The portal as it was before JIT's health: no NSGs read (neither their ARM list per subscription nor their rows
    in the Resource Graph query), no evaluation per VM."""
    from core.gateway import fleet, graph
    from vms import verdicts

    lists, judge, resources = fleet.LISTS, verdicts.FleetJudge.judge, graph.QUERIES["resources"]
    fleet.LISTS = tuple(item for item in lists if item[0] != "nsgs")
    graph.QUERIES["resources"] = resources.replace(", 'microsoft.network/networksecuritygroups'", "")
    verdicts.FleetJudge.judge = lambda self, *args, **kwargs: None
    try:
        yield
    finally:
        fleet.LISTS, verdicts.FleetJudge.judge, graph.QUERIES["resources"] = lists, judge, resources


def health_cost(client: Client, rounds: int) -> tuple[list[float], list[float], float, float]:
    """Cold Configured tab with and without health, alternated; then the worst warm view of each. Each cold sample
    is (wall seconds, the portal process's CPU seconds): on a shared machine the CPU is what compares."""
    with_health, without = [], []
    for _ in range(rounds):
        cpu = time.process_time()
        with_health.append((cold_load(client, "/vms/?tab=configured")[0], time.process_time() - cpu))
        with without_health():
            cpu = time.process_time()
            without.append((cold_load(client, "/vms/?tab=configured")[0], time.process_time() - cpu))
    warm_with = max(t for t, _ in warm_views(client).values())
    with without_health():
        cold_load(client, "/vms/?tab=configured")
        warm_without = max(t for t, _ in warm_views(client).values())
    cold_load(client, "/vms/?tab=configured")
    return with_health, without, warm_with, warm_without


def print_health(
    cost_with: list[tuple[float, float]], cost_without: list[tuple[float, float]], warm_with: float, warm_without: float
) -> None:
    for what, i in (("wall", 0), ("portal CPU", 1)):
        with_median = statistics.median(c[i] for c in cost_with)
        without_median = statistics.median(c[i] for c in cost_without)
        print(
            f"JIT health, cold Configured tab, {what}: median {with_median:.2f} s with, {without_median:.2f} s "
            f"without = {(with_median / without_median - 1) * 100:+.1f} % (with {_list([c[i] for c in cost_with])}; "
            f"without {_list([c[i] for c in cost_without])})"
        )
    print(f"JIT health, warm: worst view {warm_with * 1000:.0f} ms with, {warm_without * 1000:.0f} ms without")


def health_only(vms: int, subscriptions: int, latency_ms: int, rounds: int) -> None:
    """BENCH_ONLY=health: the fleet, then only health's cost (a shorter run for a busy machine)."""
    sandbox = start(settings.TEST_SANDBOX_PORT, settings.SANDBOX_DATA_DIR)
    try:
        sandbox.control("POST", "fleet", {"vms": vms, "subscriptions": subscriptions})
        client = Client(HTTP_HOST=PORTAL_HOST)
        sign_in(client, sandbox, "carol")
        client.get("/vms/")
        sandbox.control("POST", "latency", {"operation": "*", "ms": latency_ms})
        print(f"fleet: {vms} VMs over {subscriptions} subscriptions; {latency_ms} ms per ARM call; {rounds} rounds")
        print_health(*health_cost(client, rounds))
    finally:
        sandbox.process.terminate()
        sandbox.process.wait()


def busy(processes: int) -> list[subprocess.Popen]:
    """Other processes loading the machine: one spinning Python per core."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]


def run(sandbox: SandboxProcess, client: Client, latency_ms: int, rounds: int) -> None:
    """The in-process figures for the fleet `sandbox` holds, `client` signed in as Carol (tests/bench_fleet.py
    times the pages against the floor in a browser, as people run the portal)."""
    from django.db import connection

    sandbox.control("POST", "latency", {"operation": "*", "ms": latency_ms})
    cold_load(client, "/vms/?tab=configured")
    warm = warm_views(client)
    spinners = busy(os.cpu_count() or 2)
    try:
        loaded = warm_views(client)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    # Best of ten rounds at least, alternated: one sample of ~0.1 s is at the mercy of a scheduler's tick (the
    # six initiates' spread over ten rounds: 91-100 ms).
    pairs = [(access_request(sandbox, 1, 1), access_request(sandbox, 6, 20)) for _ in range(max(rounds, 10))]
    one, many = min(o for (o, _), _ in pairs), min(m for _, (m, _) in pairs)
    bare_one, bare_many = min(b for (_, b), _ in pairs), min(b for _, (_, b) in pairs)
    colds = [cold_load(client, "/vms/?tab=configured")[0] for _ in range(rounds)]
    slow = sandbox.info()["subscriptions"][0]
    sandbox.control("POST", "latency", {"operation": "*", "ms": 2000, "path_contains": slow["id"]})
    slows = [cold_load(client, "/vms/?tab=configured") for _ in range(rounds)]
    slow_seconds, slow_pending = statistics.median(s for s, _ in slows), max(p for _, p in slows)
    sandbox.control("DELETE", "faults")
    sandbox.control("POST", "latency", {"operation": "*", "ms": latency_ms})
    cost_with, cost_without, warm_with, warm_without = health_cost(client, max(rounds, 5))
    cold = statistics.median(colds)
    print(f"in process (Django's test client, DEBUG off; {settings.AZURE_PARALLEL_CALLS} calls at once):")
    print(
        f"portal warm: worst {max(t for t, _ in warm.values()) * 1000:.0f} ms quiet (CPU "
        f"{max(c for _, c in warm.values()) * 1000:.0f} ms), {max(t for t, _ in loaded.values()) * 1000:.0f} ms "
        f"beside {len(spinners)} busy processes, over {len(warm)} views (tabs, filters, sorts, pages)"
    )
    for view, (seconds, cpu) in warm.items():
        print(
            f"  {seconds * 1000:6.1f} ms (CPU {cpu * 1000:5.1f} ms), busy {loaded[view][0] * 1000:6.1f} ms  "
            f"/vms/?{view}"
        )
    print(
        f"access request, 20 VMs over 6 policies: {many:.3f} s = {many / one:.2f}x one initiate ({one:.3f} s); "
        f"a bare client's same initiates: {bare_many:.3f} s = {bare_many / bare_one:.2f}x one ({bare_one:.3f} s), "
        f"so the portal's request is {many / bare_many:.2f}x the bare one"
    )
    print(
        f"one subscription at 2 s per call: page in {slow_seconds:.2f} s ({slow_seconds / cold:.2f}x the cold "
        f"page without it, {cold:.2f} s; all {_list([s for s, _ in slows])}), {slow_pending} still loading"
    )
    print_health(cost_with, cost_without, warm_with, warm_without)
    if os.environ.get("BENCH_PROFILE"):  # where the portal's time goes, cold then warm
        from pyinstrument import Profiler

        for url in ("/vms/refresh", "/vms/?tab=configured&sort=subscription_name"):
            if url.endswith("refresh"):
                client.post(url)
                url = "/vms/?tab=configured"
            with Profiler(async_mode="disabled") as profiler:
                client.get(url)
            print(profiler.output_text(show_all=False, timeline=False))
    connection.close()


def main(vms: int = 10_000, subscriptions: int = 100, latency_ms: int = 50, rounds: int = 3) -> None:
    """One fleet's in-process figures alone (`make bench` runs them through tests/bench_fleet.py)."""
    from django.core.management import call_command

    setup_test_environment(debug=False)  # measured as served: DEBUG logs every query
    call_command("migrate", verbosity=0)
    if os.environ.get("BENCH_ONLY") == "health":
        health_only(vms, subscriptions, latency_ms, rounds)
        return
    sandbox = start(settings.TEST_SANDBOX_PORT, settings.SANDBOX_DATA_DIR)
    try:
        sandbox.control("POST", "fleet", {"vms": vms, "subscriptions": subscriptions})
        client = Client(HTTP_HOST=PORTAL_HOST)
        sign_in(client, sandbox, "carol")
        print(f"fleet: {vms} VMs over {subscriptions} subscriptions; {latency_ms} ms per ARM call; {rounds} rounds")
        run(sandbox, client, latency_ms, rounds)
        print(f"one cached inventory: {inventory_bytes(client):.1f} MB")
    finally:
        sandbox.process.terminate()
        sandbox.process.wait()


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
