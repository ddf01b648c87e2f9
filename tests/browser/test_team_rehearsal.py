"""`make team` as a newcomer runs it (README: A rehearsal of the team shape): two instances behind one address, a
worker, PostgreSQL and Redis, against the sandbox; a browser signs in at that address and each click may land on
either instance. Skipped loudly without PostgreSQL and Redis on loopback (`.ci/run` starts them), except under
CI=true."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings
from playwright.sync_api import expect

from tests.team.cluster import REDIS_URL, ROOT, drop_database, fresh_database, unreachable

# On the team tests' worker (make test runs pytest-xdist): tests/team/ also collects static files into var/static.
pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.xdist_group("team")]


def _three_free_ports() -> int:
    """A port whose next two are free too: the one address, then the two instances."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65000 and all(_free(port + i) for i in range(3)):
            return port
    raise RuntimeError("no three free ports in a row")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def rehearsal(sandbox_process):
    """`manage.py team` (what `make team` runs), on a database of its own and the tests' sandbox."""
    if (why := unreachable()) is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(f"SKIPPED LOUDLY: the team rehearsal needs PostgreSQL and Redis: {why}")
    database, port = fresh_database(), _three_free_ports()
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "DJANGO_", "DATABASE_", "REDIS_"))}
    env = {
        **kept,
        "DJANGO_SETTINGS_MODULE": "jitportal.settings",
        "DJANGO_DEBUG": "1",  # as the Makefile runs it
        "SANDBOX_PORT": sandbox_process.base_url.rsplit(":", 1)[1],
        "SANDBOX_DATA_DIR": str(settings.SANDBOX_DATA_DIR),
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": f"jitportal-team-{os.getpid()}",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "team", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    http = requests.Session()
    http.trust_env = False
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read()[-5000:]
            try:
                if http.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            raise AssertionError("make team did not answer within 180 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # Ctrl-C, as the newcomer stops it
        process.wait(timeout=60)
        drop_database(database)


def test_a_browser_signs_in_through_the_one_address_and_either_instance_serves_it(browser, sandbox, rehearsal):
    context = browser.new_context(ignore_https_errors=True)  # the sandbox's own CA
    page = context.new_page()
    served = set()
    page.on("response", lambda r: served.add(r.headers.get("x-served-by")) if r.url.startswith(rehearsal) else None)
    page.goto(f"{rehearsal}/")
    page.get_by_role("button", name="Bob Brennan").click()  # the sandbox's chooser, then back to the one address
    expect(page.get_by_role("heading", name="Hello, Bob Brennan")).to_be_visible()
    assert page.url == f"{rehearsal}/"  # plain HTTP all along: no redirect to HTTPS
    for path in ("/vms/", "/access/approvals/", "/audit/", "/vms/?tab=not-configured", "/"):
        page.goto(f"{rehearsal}{path}")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{rehearsal}/vms/")
    page.get_by_role("button", name="Refresh").click()  # a form, its CSRF token checked by whichever instance
    expect(page.get_by_role("heading", name="Virtual machines")).to_be_visible()
    assert len({s for s in served if s and re.fullmatch(r"127\.0\.0\.1:\d+", s)}) == 2, served
    context.close()
