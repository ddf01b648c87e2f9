"""`make bench`: how long the VM tabs' inventory takes to load for a large fleet, and at what cost.

Starts its own sandbox, generates a fleet, signs Carol in through the real MSAL flow, then loads the
inventory through the real gateway (cold, i.e. with an empty cache) a few times. Prints seconds, ARM
calls and the portal process's peak memory. Not a test: numbers, to compare before and after a change.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from tests.conftest import PORTAL_HOST, sign_in  # noqa: E402
from tests.sandbox_client import start  # noqa: E402


def main(vms: int = 10_000, subscriptions: int = 50, rounds: int = 3) -> None:
    from django.core.management import call_command
    from django.db import connection

    setup_test_environment()

    call_command("migrate", verbosity=0)
    sandbox = start(settings.TEST_SANDBOX_PORT, settings.SANDBOX_DATA_DIR)
    try:
        sandbox.control("POST", "fleet", {"vms": vms, "subscriptions": subscriptions})
        client = Client(HTTP_HOST=PORTAL_HOST)
        sign_in(client, sandbox, "carol")
        timings = []
        for _ in range(rounds):
            client.post("/vms/refresh")
            sandbox.control("POST", "stats")
            started = time.perf_counter()
            page = client.get("/vms/?tab=not-configured")
            timings.append(time.perf_counter() - started)
            assert page.status_code == 200 and len(page.context["inventory"].rows) == vms
        calls = sandbox.control("GET", "stats")["total"]
        started = time.perf_counter()
        client.get("/vms/?tab=not-configured")
        warm = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"fleet: {vms} VMs over {subscriptions} subscriptions")
        print(f"cold page load: median {statistics.median(timings):.2f} s, min {min(timings):.2f} s "
              f"over {rounds} rounds; {calls} ARM calls per load; portal peak RSS {peak_mb:.0f} MB")
        print(f"warm page load (cached inventory): {warm:.2f} s")
        connection.close()
    finally:
        sandbox.process.terminate()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
