"""Test helpers that talk to the sandbox: its control API, and the account chooser as a browser would."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests


@dataclass
class SandboxProcess:
    base_url: str
    ca_path: Path
    process: subprocess.Popen
    _kept: threading.local = field(default_factory=threading.local, repr=False)

    def http(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_path)
        return session

    def control(self, method: str, path: str, payload: dict | None = None) -> dict:
        # One kept connection per thread: a new session per call was a TLS handshake per call (three per test's reset).
        if not hasattr(self._kept, "http"):
            self._kept.http = self.http()
        response = self._kept.http.request(method, f"{self.base_url}/_sandbox/{path}", json=payload, timeout=30)
        assert response.ok, response.text
        return response.json()

    def reset(self) -> None:
        self.control("POST", "reset")
        self.control("DELETE", "faults")
        self.control("POST", "stats")

    def advance(self, duration: str) -> None:
        self.control("POST", "clock", {"advance": duration})

    def info(self) -> dict:
        return self.control("GET", "info")

    def choose_account(self, authorize_url: str, user_key: str) -> str:
        """Open the chooser page, click the person's button; return where the sandbox redirects."""
        http = self.http()
        page = http.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text
        carried = re.search(r"name='request' value='([^']*)'", page.text).group(1).replace("&amp;", "&")
        answer = http.post(
            authorize_url.split("?")[0], data={"request": carried, "user": user_key}, allow_redirects=False, timeout=10
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


def start(port: int, data_dir: Path) -> SandboxProcess:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--quiet",
            "--graph-lag",
            "0",
        ],
        cwd=Path(__file__).resolve().parent.parent,
    )
    sandbox = SandboxProcess(f"https://127.0.0.1:{port}", data_dir / "ca.pem", process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the sandbox exited during start-up"
        if sandbox.ca_path.exists():
            try:
                sandbox.info()
                return sandbox
            except (requests.RequestException, AssertionError):
                pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the sandbox did not start within 30 s")


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
