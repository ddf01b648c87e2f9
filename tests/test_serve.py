"""`manage.py serve` (what `make serve` runs) starts the sandbox and the portal, and stops both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str, ca: Path | None = None) -> bool:
    try:
        requests.get(url, timeout=1, allow_redirects=False, verify=str(ca) if ca else True)
        return True
    except requests.RequestException:
        return False


def _wait(condition, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


@pytest.mark.parametrize("stop", ["sigterm", "parent-dies"])
def test_serve_runs_sandbox_and_portal_and_stops_both(tmp_path, stop):
    portal_port, sandbox_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AZURE_", "SANDBOX_"))}
    env.update(
        DJANGO_DEBUG="1",
        DJANGO_SETTINGS_MODULE="jitportal.settings",
        SANDBOX_PORT=str(sandbox_port),
        SANDBOX_DATA_DIR=str(tmp_path / "sandbox"),
        SANDBOX_CA_BUNDLE=str(tmp_path / "sandbox" / "ca.pem"),
        DATABASE_PATH=str(tmp_path / "db.sqlite3"),
    )
    command = [sys.executable, "manage.py", "serve", "--port", str(portal_port)]
    if stop == "parent-dies":  # like `make serve` sent SIGTERM: make dies, its child is not told
        command = ["/bin/sh", "-c", " ".join(command) + " & wait"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    portal, sandbox = f"http://127.0.0.1:{portal_port}/", f"https://127.0.0.1:{sandbox_port}/_sandbox/info"
    try:
        assert _wait(lambda: _answers(portal)), process.stdout.read1().decode() if process.stdout else ""
        sign_in = requests.get(portal + "accounts/sign-in", allow_redirects=False, timeout=10)
        assert sign_in.status_code == 302 and sign_in.headers["Location"].startswith(
            f"https://127.0.0.1:{sandbox_port}/"
        )
        ca = tmp_path / "sandbox" / "ca.pem"
        assert _answers(sandbox, ca)
        process.send_signal(signal.SIGTERM if stop == "sigterm" else signal.SIGKILL)
        assert _wait(lambda: not _answers(portal) and not _answers(sandbox, ca), 20), "something is still running"
    finally:
        os.killpg(process.pid, signal.SIGKILL) if process.poll() is None else None
