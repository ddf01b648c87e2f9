"""`make bench` (first part): the VM tabs as people run the portal, against the physical floor, at two fleets.

Per fleet (default 10,000 VMs over 100 subscriptions, then 100,000 over 1,000), with a sandbox of its own answering
every ARM call after LATENCY ms (50):
- the **physical floor**: a bare `requests` client making every call the page needed before Resource Graph
  (`TODAYS_LISTS`: the subscriptions, each subscription's ten lists, each resource group's permissions), 64 at
  once, plain `json.loads`, to the last page; and the **narrow floor** as before (as wide as the portal's pool);
- the portal as people run it, real processes started as the Makefile starts them: `make serve` (the runserver,
  SQLite, DEBUG on, one process) and `make prod` (gunicorn with jitportal/gunicorn.conf.py, PostgreSQL and Redis as
  `make team` gives it; skipped when they do not answer). People sign in through the sandbox in Chromium
  (/usr/bin/chromium); the Configured tab is timed **in the browser** (Navigation Timing, requestStart →
  responseEnd of the page: it shows its rows only when the response ends) cold (the page's Refresh button) and
  warm (ten views, best of three each), ROUNDS rounds alternated with both floors;
- another person's warm page while one person's cold page loads, against it alone;
- the portal processes' RSS and, in this process, one cached inventory's memory (traced allocations);
- then tests/bench_inventory.py's in-process figures on the smaller fleet (access request, a slow subscription,
  JIT health's cost, warm pages' CPU beside busy processes).
The machine's load average is printed at the start and end of each fleet: figures taken above 1.5 are flagged.
Not a test: numbers, to compare before and after a change.

    python -m tests.bench_fleet [--fleets 10000x100,100000x1000] [--latency 50] [--rounds 3] [--servers serve,prod]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

# The environment a person's shell gives `make serve`, before the test settings put the sandbox's into this one.
PEOPLES_ENVIRONMENT = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SANDBOX_", "DJANGO_"))}
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop here

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402

from tests.bench_inventory import WARM_VIEWS  # noqa: E402
from tests.sandbox_client import SandboxProcess  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
WIDE = 64  # the physical floor's calls at once (issue #27)
UNRELIABLE_LOAD = 1.5
CONFIGURED = "/vms/?tab=configured"
# The calls the Configured tab made before Resource Graph (main at 5c51873), frozen here so that the floor stays
# "today's design" whatever the portal calls later: (path below the subscription, api-version, extra query).
TODAYS_LISTS = (
    ("providers/Microsoft.Compute/virtualMachines", "2024-07-01", {}),
    ("providers/Microsoft.Compute/virtualMachines", "2024-07-01", {"statusOnly": "true"}),
    ("providers/Microsoft.Network/networkInterfaces", "2024-05-01", {}),
    ("providers/Microsoft.Network/virtualNetworks", "2024-05-01", {}),
    ("providers/Microsoft.Network/publicIPAddresses", "2024-05-01", {}),
    ("providers/Microsoft.Network/azureFirewalls", "2024-05-01", {}),
    ("providers/Microsoft.ClassicCompute/virtualMachines", "2017-04-01", {}),
    ("providers/Microsoft.Security/pricings", "2024-01-01", {}),
    ("providers/Microsoft.Security/jitNetworkAccessPolicies", "2020-01-01", {}),
    ("providers/Microsoft.Network/networkSecurityGroups", "2024-05-01", {}),
)
SUBSCRIPTIONS_VERSION, PERMISSIONS_VERSION = "2022-12-01", "2022-04-01"
GOALS = {
    10_000: "cold ≤ 1.3× the physical floor, warm ≤ 50 ms",
    100_000: "cold ≤ 1.0× the physical floor, warm ≤ 50 ms, one cached inventory ≤ 150 MB, others unaffected",
}
# A cold page of a large fleet may take minutes on a loaded machine: the browser waits, and gunicorn's worker
# timeout (WEB_TIMEOUT, 120 s by default) is raised so that the figure is measured, not cut.
PAGE_TIMEOUT_S = 600


def floor(sandbox: SandboxProcess, token: str, width: int) -> tuple[float, int]:
    """Seconds and calls for `TODAYS_LISTS` made by a bare client, `width` at once, to the last page; each
    subscription's permissions calls (one per resource group of its VMs) are queued as its VM list arrives."""
    http = requests.Session()
    http.trust_env = False
    http.verify = str(sandbox.ca_path)
    http.headers["Authorization"] = f"Bearer {token}"
    http.mount("https://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=width))
    calls, lock = [0], Lock()

    def read(path: str, params: dict[str, str]) -> list[dict]:
        items, url, query = [], f"{sandbox.base_url}{path}", params
        while url:
            answer = http.get(url, params=query, timeout=PAGE_TIMEOUT_S)
            answer.raise_for_status()
            body = json.loads(answer.content)
            items += body.get("value", [])
            url, query = body.get("nextLink"), None
            with lock:
                calls[0] += 1
        return items

    started = time.perf_counter()
    subscriptions = read("/subscriptions", {"api-version": SUBSCRIPTIONS_VERSION})
    with ThreadPoolExecutor(max_workers=width) as pool:
        pending: list[Future] = []

        def list_then_rights(sub: str, path: str, version: str, extra: dict[str, str]) -> None:
            items = read(f"{sub}/{path}", {"api-version": version, **extra})
            if path.endswith("virtualMachines") and "ClassicCompute" not in path and not extra:
                for group in sorted({v["id"].split("/")[4].lower() for v in items}):
                    pending.append(
                        pool.submit(
                            read,
                            f"{sub}/resourceGroups/{group}/providers/Microsoft.Authorization/permissions",
                            {"api-version": PERMISSIONS_VERSION},
                        )
                    )

        pending += [
            pool.submit(list_then_rights, s["id"], path, version, extra)
            for s in subscriptions
            for path, version, extra in TODAYS_LISTS
        ]
        while pending:
            pending.pop().result()
    return time.perf_counter() - started, calls[0]


# --- processes --------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def status_mb(pid: int, field_name: str) -> float:
    """VmRSS or VmHWM (peak) of a process, in MB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(f"{field_name}:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serves(pid: int) -> bool:
    """Whether the process is Python running `manage.py serve` (not the shell make started it with)."""
    argv = cmdline(pid).split()
    return len(argv) > 2 and "python" in Path(argv[0]).name and argv[1:3] == ["manage.py", "serve"]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


@dataclass
class Server:
    """A portal started as the Makefile starts it, in a process group of its own."""

    name: str
    url: str
    process: subprocess.Popen
    is_portal: Callable[[int], bool]  # which of its processes serve pages
    cleanup: Callable[[], None] = field(default=lambda: None)

    def portal_pids(self) -> list[int]:
        return [pid for pid in children_of(self.process.pid) if self.is_portal(pid)]

    def memory(self) -> str:
        pids = self.portal_pids()
        return ", ".join(f"{status_mb(p, 'VmRSS'):.0f} MB (peak {status_mb(p, 'VmHWM'):.0f} MB)" for p in pids) or "?"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.cleanup()


def _wait_healthy(name: str, url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} stopped while starting:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} did not answer within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


def start_serve(sandbox: SandboxProcess, work: Path) -> Server:
    """`make serve`, using the bench's sandbox (its published connection settings, as a second `make serve` would)."""
    port, log = free_port(), work / "serve.log"
    environment = {
        **PEOPLES_ENVIRONMENT,
        "PORT": str(port),
        "SANDBOX_PORT": sandbox.base_url.rsplit(":", 1)[1],
        "SANDBOX_DATA_DIR": str(sandbox.ca_path.parent),
        "DATABASE_PATH": str(work / "serve.sqlite3"),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["make", "-s", "serve"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    _wait_healthy("make serve", url, process, log)

    def is_portal(pid: int) -> bool:  # the runserver: the `manage.py serve` that `manage.py serve` started
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) if cmdline(pid) else 0
        return _serves(pid) and _serves(parent)

    return Server("make serve", url, process, is_portal)


def start_prod(sandbox: SandboxProcess, work: Path) -> Server | None:
    """`make prod` with the team shape's production settings (PostgreSQL, Redis); None when they do not answer."""
    from tests.team import cluster

    if (why := cluster.unreachable()) is not None:
        print(f"make prod: skipped ({why}; .ci/run or README's team rehearsal starts them)")
        return None
    database = cluster.fresh_database()
    port, log = free_port(), work / "prod.log"
    environment = {
        **cluster.team_environment(sandbox, database),
        "PORT": str(port),
        "BIND": f"127.0.0.1:{port}",
        "WEB_TIMEOUT": str(PAGE_TIMEOUT_S),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["make", "-s", "prod"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy("make prod", url, process, log)
    except RuntimeError:
        os.killpg(process.pid, signal.SIGTERM)
        cluster.drop_database(database)
        raise
    workers = int(environment.get("WEB_CONCURRENCY", os.cpu_count() or 2))

    def is_portal(pid: int) -> bool:  # gunicorn's workers: its processes started by its master
        return "gunicorn" in cmdline(pid) and not any("gunicorn" in cmdline(c) for c in children_of(pid))

    print(
        f"make prod: gunicorn, {workers} worker processes × {environment.get('WEB_THREADS', '8')} threads, "
        f"PostgreSQL and Redis on loopback, WEB_TIMEOUT={PAGE_TIMEOUT_S} s"
    )
    return Server("make prod", url, process, is_portal, lambda: cluster.drop_database(database))


# --- the browser ----------------------------------------------------------------------------------------------
ROWS = ".table-container table"  # a VM tab's table: the rows are shown (a progress page has none)


def browser_person(browser, server: Server, key: str):
    """A browser of its own for the demo person `key`, signed in through the sandbox's account chooser."""
    from sandbox import demo

    context = browser.new_context(ignore_https_errors=True, base_url=server.url)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
    page.goto("/")
    page.get_by_role("button", name=demo.person(key).display_name).click()
    page.wait_for_url(f"{server.url}/**")
    return page


def rows_shown(page, navigate: Callable[[], None]) -> tuple[float, float, int]:
    """Seconds from the request start of the first document `navigate` brings to the response end of the one that
    shows the VM table (the same document, or the last look of a page that shows its progress and looks again),
    seconds to the first document's response end, and how many documents it took — as the browser's Resource
    Timing of each document records them."""
    documents: list = []

    def seen(response) -> None:
        if (
            response.request.resource_type == "document"
            and response.frame == page.main_frame
            and response.status == 200
        ):
            documents.append(response)

    page.on("response", seen)
    try:
        navigate()
        page.locator(ROWS).first.wait_for(state="attached")
        page.wait_for_load_state("load")
    finally:
        page.remove_listener("response", seen)
    first, last = documents[0], documents[-1]
    last.finished()
    begun, ended = first.request.timing, last.request.timing
    started = begun["startTime"] + begun["requestStart"]
    return (
        (ended["startTime"] + ended["responseEnd"] - started) / 1000,
        (begun["startTime"] + begun["responseEnd"] - started) / 1000,
        len(documents),
    )


def timed_view(page, path: str) -> float:
    """Seconds to the VM tab `path` with its rows, in the browser."""
    return rows_shown(page, lambda: page.goto(path, wait_until="commit"))[0]


def cold_view(page) -> tuple[float, float, int, int, str]:
    """The Configured tab after its Refresh button (the POST redirects to the page, loaded afresh): `rows_shown`'s
    figures, how many subscriptions the rows' page shows as still loading, and where it says they were read."""
    from core.gateway import STILL_LOADING

    timed_view(page, CONFIGURED)

    def refresh() -> None:
        with page.expect_navigation(wait_until="commit", url=f"**{CONFIGURED}"):
            page.get_by_role("button", name="Refresh").click()

    seconds, first, documents = rows_shown(page, refresh)
    return seconds, first, documents, page.get_by_text(STILL_LOADING.split(";")[0]).count(), source(page)


def source(page) -> str:
    """Where the page says its rows were read: Resource Graph, ARM's lists, or both."""
    words = page.locator(".freshness").inner_text()
    return (
        " and ".join(
            name
            for name, said in (("Resource Graph", "Resource Graph"), ("ARM lists", "Resource Manager"))
            if said in words
        )
        or "ARM lists"
    )


def warm_views(page) -> dict[str, float]:
    """Per view, the best of three, in seconds."""
    return {view: min(timed_view(page, f"/vms/?{view}") for _ in range(3)) for view in WARM_VIEWS}


def others_meanwhile(server: Server, sandbox: SandboxProcess, other_page) -> tuple[list[float], list[float], float]:
    """Another person's warm page alone, then again and again while Carol's cold page loads (her own session,
    over plain HTTP): seconds each, and her page's. His inventory is loaded afresh first, and his pages are counted
    only while it is younger than INVENTORY_CACHE_SECONDS (a 100,000-VM load can outlast it: then his page is cold
    too, which is not what this measures)."""
    from tests.team.cluster import Person

    carol = Person(sandbox)
    carol.sign_in(server, "carol")
    page = carol.http.get(f"{server.url}{CONFIGURED}", timeout=PAGE_TIMEOUT_S)  # may be cold: another worker
    while page.status_code == 200 and "table-container" not in page.text:  # a progress page looks again
        page = carol.http.get(f"{server.url}{CONFIGURED}", timeout=PAGE_TIMEOUT_S)
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    cold_view(other_page)
    fresh_until = time.monotonic() + settings.INVENTORY_CACHE_SECONDS - 5
    alone = [timed_view(other_page, CONFIGURED) for _ in range(5)]
    took = [0.0]

    def cold() -> None:
        began = time.perf_counter()
        answer = carol.http.post(
            f"{server.url}/vms/refresh",
            data={"csrfmiddlewaretoken": token, "next": CONFIGURED},
            headers={"Referer": f"{server.url}{CONFIGURED}"},
            timeout=PAGE_TIMEOUT_S,
        )
        while answer.status_code == 200 and "table-container" not in answer.text:  # a progress page looks again
            answer = carol.http.get(f"{server.url}{CONFIGURED}", timeout=PAGE_TIMEOUT_S)
        assert answer.status_code == 200, answer.status_code
        took[0] = time.perf_counter() - began

    loading = threading.Thread(target=cold)
    loading.start()
    time.sleep(0.2)  # her request is in the portal's hands
    during = []
    while loading.is_alive() and time.monotonic() < fresh_until:
        during.append(timed_view(other_page, CONFIGURED))
    loading.join()
    return alone, during, took[0]


# --- one fleet ------------------------------------------------------------------------------------------------
def measure_server(server: Server, sandbox: SandboxProcess, token: str, browser, rounds: int, result: dict) -> None:
    """Fill `result` as the figures come (a failure later keeps those already measured)."""
    print(f"{server.name}: portal processes after start: {server.memory()}", flush=True)
    carol, bob = browser_person(browser, server, "carol"), browser_person(browser, server, "bob")
    first = timed_view(carol, CONFIGURED)
    timed_view(bob, CONFIGURED)  # Bob's inventory, for his warm pages beside Carol's cold ones
    print(f"{server.name}: first Configured tab {first:.2f} s; portal processes: {server.memory()}", flush=True)
    wide, narrow, colds, firsts, documents = [], [], [], [], []
    result.update(wide=wide, narrow=narrow, colds=colds, firsts=firsts, documents=documents, late=0)
    for _ in range(rounds):
        wide.append(floor(sandbox, token, WIDE)[0])
        narrow.append(floor(sandbox, token, settings.AZURE_PARALLEL_CALLS)[0])
        sandbox.control("POST", "stats")
        seconds, first_seen, looks, still, read_from = cold_view(carol)
        calls = sandbox.control("GET", "stats")
        graph_calls = sum(n for operation, n in calls["calls"].items() if "graph" in operation.lower())
        colds.append(seconds)
        firsts.append(first_seen)
        documents.append(looks)
        result["late"] += still
        print(
            f"  round: physical floor {wide[-1]:.2f} s, narrow floor {narrow[-1]:.2f} s, cold {seconds:.2f} s "
            f"(first response {first_seen:.2f} s, {looks} documents, {still} subscriptions still loading; read from "
            f"{read_from}; {calls['total']:,} calls to the sandbox, {graph_calls:,} of them Resource Graph's)",
            flush=True,
        )
    result["warm"] = warm_views(carol)
    result["alone"], result["during"], result["carols"] = others_meanwhile(server, sandbox, bob)
    result["memory"] = server.memory()
    carol.context.close()
    bob.context.close()


def print_server(name: str, r: dict, goal_cold: float) -> None:
    if not r.get("colds"):
        return
    ratios = [c / w for c, w in zip(r["colds"], r["wide"], strict=True)]
    narrow_ratios = [c / n for c, n in zip(r["colds"], r["narrow"], strict=True)]
    cold = statistics.median(r["colds"])
    print(
        f"{name}: cold Configured tab (browser, after Refresh, to the response showing its rows) median {cold:.2f} s "
        f"(all {_list(r['colds'])}; first response after {_list(r['firsts'])} s; documents {r['documents']}; "
        f"{r['late']} subscriptions left loading)"
    )
    print(
        f"  = {statistics.median(ratios):.2f}× the physical floor (per round {_list(ratios)}; goal ≤ {goal_cold:.1f}×: "
        f"{'met' if statistics.median(ratios) <= goal_cold else 'NOT met'}), "
        f"{statistics.median(narrow_ratios):.2f}× the narrow floor"
    )
    if "warm" not in r:
        return
    worst = max(r["warm"].values())
    print(
        f"  warm: worst of {len(r['warm'])} views {worst * 1000:.0f} ms (best of three each; goal ≤ 50 ms: "
        f"{'met' if worst <= 0.05 else 'NOT met'}); " + ", ".join(f"{v * 1000:.0f}" for v in r["warm"].values()) + " ms"
    )
    if "memory" not in r:
        return
    alone, during = statistics.median(r["alone"]), statistics.median(r["during"]) if r["during"] else float("nan")
    print(
        f"  another person's warm page while a cold one loads: median {during * 1000:.0f} ms, worst "
        f"{max(r['during'], default=float('nan')) * 1000:.0f} ms over {len(r['during'])} loads = "
        f"{during / alone:.2f}× its {alone * 1000:.0f} ms alone (her cold page {r['carols']:.1f} s; his counted "
        f"within INVENTORY_CACHE_SECONDS={settings.INVENTORY_CACHE_SECONDS} of his own load)"
    )
    print(f"  portal processes' memory after the rounds: {r['memory']}")


def generate(sandbox: SandboxProcess, vms: int, subscriptions: int) -> None:
    started = time.perf_counter()
    answer = sandbox.http().post(
        f"{sandbox.base_url}/_sandbox/fleet", json={"vms": vms, "subscriptions": subscriptions}, timeout=1800
    )
    answer.raise_for_status()
    print(
        f"sandbox: fleet generated in {time.perf_counter() - started:.1f} s; sandbox RSS "
        f"{status_mb(sandbox.process.pid, 'VmRSS'):.0f} MB",
        flush=True,
    )


def fleet(vms: int, subscriptions: int, latency_ms: int, rounds: int, servers: list[str], in_process: bool) -> None:
    from django.test import Client

    from core.gateway.auth import UserCredential
    from tests import bench_inventory
    from tests.conftest import PORTAL_HOST, sign_in
    from tests.sandbox_client import start

    begin_load = os.getloadavg()
    print(
        f"=== {vms:,} VMs over {subscriptions:,} subscriptions; {latency_ms} ms per ARM call; {rounds} rounds; "
        f"goal: {GOALS.get(vms, '-')}"
    )
    print(f"load average at start: {_load(begin_load)}", flush=True)
    settings.AZURE_TIMEOUT_SECONDS = PAGE_TIMEOUT_S  # this process's in-process loads, as the servers' browsers wait
    sandbox = start(settings.TEST_SANDBOX_PORT, settings.SANDBOX_DATA_DIR)
    work = Path(tempfile.mkdtemp(prefix="jitportal-bench-"))
    try:
        generate(sandbox, vms, subscriptions)
        client = Client(HTTP_HOST=PORTAL_HOST)
        sign_in(client, sandbox, "carol")
        token = UserCredential(client.session).get_token(settings.AZURE_ARM_SCOPE).token
        cpu = cpu_seconds(sandbox.process.pid)
        unhurried, calls = floor(sandbox, token, WIDE)  # the sandbox's kept pages, made once
        print(
            f"sandbox: {calls:,} calls per page; their first sweep {unhurried:.1f} s, sandbox CPU "
            f"{(cpu_seconds(sandbox.process.pid) - cpu) / calls * 1000:.2f} ms per call",
            flush=True,
        )
        sandbox.control("POST", "latency", {"operation": "*", "ms": latency_ms})
        cpu = cpu_seconds(sandbox.process.pid)
        seconds, _ = floor(sandbox, token, WIDE)
        print(
            f"sandbox: at {latency_ms} ms, the physical floor {seconds:.2f} s, sandbox CPU "
            f"{(cpu_seconds(sandbox.process.pid) - cpu) / calls * 1000:.2f} ms per call",
            flush=True,
        )
        results, failures = {}, {}
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-sync",
                    "--disable-background-networking",
                    "--disable-component-update",
                ],
            )
            for name in servers:
                server = (start_serve if name == "serve" else start_prod)(sandbox, work)
                if server is None:
                    continue
                try:
                    measure_server(server, sandbox, token, browser, rounds, results.setdefault(server.name, {}))
                except Exception as error:  # noqa: BLE001 - one server's failure is a figure too; the others go on
                    failures[server.name] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
                    print(f"{server.name}: FAILED: {failures[server.name]}", flush=True)
                finally:
                    server.stop()
            browser.close()
        goal = 1.3 if vms < 100_000 else 1.0
        print(
            f"--- {vms:,} VMs over {subscriptions:,} subscriptions: the physical floor (bare client, {calls:,} calls, "
            f"{WIDE} at once): best {min((w for r in results.values() for w in r.get('wide', [])), default=seconds):.2f} s; "
            f"the narrow floor ({settings.AZURE_PARALLEL_CALLS} at once, the portal's pool): best "
            f"{min((n for r in results.values() for n in r.get('narrow', [])), default=float('nan')):.2f} s"
        )
        for name, why in failures.items():
            print(f"{name}: NO FIGURES ({why}; its log: {work})")
        for name, result in results.items():
            print_server(name, result, goal)
        print(
            f"one cached inventory (traced allocations, in this process): "
            f"{bench_inventory.inventory_bytes(client):.1f} MB (goal ≤ 150 MB at 100,000 VMs)",
            flush=True,
        )
        if in_process:
            bench_inventory.run(sandbox, client, latency_ms, rounds)
    finally:
        sandbox.process.terminate()
        sandbox.process.wait()
        end_load = os.getloadavg()
        print(
            f"load average at end: {_load(end_load)}"
            + (
                f"  ** UNRELIABLE: the machine was busy (load above {UNRELIABLE_LOAD}) **"
                if max(begin_load[0], end_load[0]) > UNRELIABLE_LOAD
                else ""
            )
        )
        print(flush=True)


def main() -> None:
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleets", default="10000x100,100000x1000", help="VMSxSUBSCRIPTIONS, comma-separated")
    parser.add_argument("--latency", type=int, default=50, help="ms per ARM call")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="serve,prod", help="serve, prod or both")
    parser.add_argument(
        "--in-process",
        default="smallest",
        choices=("smallest", "all", "none"),
        help="tests/bench_inventory.py's figures on which fleets",
    )
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"the bench needs Chromium at {CHROMIUM} (apt-get install -y chromium)")
    setup_test_environment(debug=False)  # measured as served: DEBUG logs every query
    call_command("migrate", verbosity=0)
    sizes = [tuple(int(n) for n in f.split("x")) for f in args.fleets.split(",")]
    began = time.monotonic()
    for vms, subscriptions in sizes:
        in_process = args.in_process == "all" or (args.in_process == "smallest" and vms == min(v for v, _ in sizes))
        fleet(vms, subscriptions, args.latency, args.rounds, args.servers.split(","), in_process)
        gc.collect()
    print(f"bench_fleet took {(time.monotonic() - began) / 60:.1f} min")


def _load(load: tuple[float, float, float]) -> str:
    return f"{load[0]:.2f} (5 min {load[1]:.2f}, 15 min {load[2]:.2f}) on {os.cpu_count()} cores"


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
