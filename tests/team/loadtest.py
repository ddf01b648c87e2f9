"""`make loadtest`: signed-in people browsing two gunicorn instances (PostgreSQL, Redis, the sandbox), all on
loopback, for a bounded time; prints throughput, latency percentiles and errors.

Each person is a browser of its own (its own session), signs in once, loads the VM tab once (the warm
cache the measurement is about), then clicks on: the VM tab, and My access (requesters) or the audit
report (admins and auditors), each click on instance A or B in turn, with a think time between clicks.
Every answer other than 200 is an error.

    python -m tests.team.loadtest [--people 50] [--seconds 60] [--think 3] [--workers 1] [--threads 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from tests.sandbox_client import start as start_sandbox
from tests.team.cluster import (
    Person,
    drop_database,
    fresh_database,
    prepare,
    start_instance,
    team_environment,
    unreachable,
)

# Demo people and the pages their portal role opens, besides the VM tab.
PEOPLE = (("alice", "/access/"), ("bob", "/audit/"), ("carol", "/audit/"), ("grace", "/audit/"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=5.0, help="seconds between one person's clicks")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn processes per instance")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn threads per process")
    args = parser.parse_args()
    if (why := unreachable()) is not None:
        print(f"loadtest needs PostgreSQL and Redis on loopback: {why} (bash .ci/run starts them)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="jitportal-loadtest-"))
    sandbox = start_sandbox(_free_port(), work / "sandbox")
    instances, env = [], team_environment(sandbox, fresh_database())
    try:
        prepare(env)
        instances = [start_instance(name, _free_port(), env, work, args.workers, args.threads) for name in "AB"]
        people = []
        for i in range(args.people):
            user_key, page = PEOPLE[i % len(PEOPLE)]
            person = Person(sandbox)
            person.sign_in(instances[i % 2], user_key)
            assert person.get(instances[i % 2], "/vms/").status_code == 200  # warm
            people.append((person, ["/vms/", page]))
        print(
            f"{args.people} people signed in on 2 instances; browsing for {args.seconds:.0f} s "
            f"(think time {args.think} s)...",
            flush=True,
        )

        timings: list[tuple[str, float, int]] = []
        lock, stop_at = threading.Lock(), time.monotonic() + args.seconds

        def browse(index: int, person: Person, pages: list[str]) -> None:
            click = index
            time.sleep(args.think * index / args.people)  # spread the first clicks
            while time.monotonic() < stop_at:
                path, instance = pages[click % len(pages)], instances[click % 2]
                started = time.monotonic()
                try:
                    status = person.get(instance, path).status_code
                except Exception:  # a refused or dropped connection is an error, not a crash of the test
                    status = 0
                with lock:
                    timings.append((path, time.monotonic() - started, status))
                click += 1
                time.sleep(args.think)

        threads = [threading.Thread(target=browse, args=(i, p, pages)) for i, (p, pages) in enumerate(people)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
    finally:
        for instance in instances:
            instance.stop()
        drop_database(env["DATABASE_URL"])
        sandbox.process.terminate()
        sandbox.process.wait(timeout=10)

    errors = Counter(status for _, _, status in timings if status != 200)
    print(
        f"requests: {len(timings)} in {elapsed:.1f} s = {len(timings) / elapsed:.1f}/s; "
        f"errors: {sum(errors.values())} {dict(errors) if errors else ''}"
    )
    for label, chosen in [
        ("all", timings),
        *((path, [t for t in timings if t[0] == path]) for path in sorted({t[0] for t in timings})),
    ]:
        ms = sorted(seconds * 1000 for _, seconds, _ in chosen)
        print(
            f"  {label:<10} n={len(ms):<6} p50={_percentile(ms, 50):7.1f} ms  p95={_percentile(ms, 95):7.1f} ms  "
            f"p99={_percentile(ms, 99):7.1f} ms  mean={statistics.fmean(ms):7.1f} ms"
        )
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
