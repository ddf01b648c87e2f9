"""The jit command as a person runs it: a separate process (the cli/ source, through the venv's installed
dependencies), pointed at the live portal and the sandbox, with its own config folder, a plain token cache
(this machine has no keyring) and a stand-in `ssh` on PATH that records its arguments."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI_SOURCE = ROOT / "cli"
STAND_IN_SSH = """#!/bin/sh
# A stand-in for ssh: records its arguments, one per line, and exits 0.
printf '%s\\n' "$@" > "$JIT_TEST_SSH_RECORD"
"""
USER_CODE = re.compile(r"enter the code ([A-Z0-9]+)")


@dataclass
class Jit:
    env: dict[str, str]
    ssh_record: Path

    def run(self, *args: str, timeout: float = 60, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "jit_cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin if stdin is not None else "",
        )

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "jit_cli", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def json(self, *args: str, code: int = 0, **kwargs) -> dict:
        done = self.run("--output", "json", *args, **kwargs)
        assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
        return json.loads(done.stdout)

    def ssh_arguments(self) -> list[str]:
        return self.ssh_record.read_text().splitlines()


@pytest.fixture
def jit(sandbox, live_server, tmp_path) -> Jit:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(STAND_IN_SSH)
    ssh.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIT_", "AZURE_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(CLI_SOURCE), env.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([str(bin_dir), env.get("PATH", "")]),
            "JIT_PORTAL": live_server.url,
            "JIT_CA_BUNDLE": str(sandbox.ca_path),
            "JIT_CONFIG_DIR": str(tmp_path / "jit"),
            "JIT_TOKEN_CACHE": "plain",
            "JIT_POLL_SECONDS": "0.3",
            "JIT_TEST_SSH_RECORD": str(tmp_path / "ssh-args"),
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
    )
    # Device codes polled every second (Entra says 5), so that a sign-in takes a second, not five.
    sandbox.control("POST", "config", {"device_code_interval_s": 1})
    return Jit(env, tmp_path / "ssh-args")


def device_login(jit: Jit, sandbox, person: str, *extra: str) -> subprocess.CompletedProcess:
    """`jit login --device-code`, the person approving the code it prints (through the sandbox's control call,
    as the verification page would)."""
    process = jit.start(*extra, "login", "--device-code")
    deadline = time.monotonic() + 30
    seen = ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if found := USER_CODE.search(line):
            sandbox.control("POST", f"device-codes/{found.group(1)}", {"user": person})
            break
    else:
        process.kill()
        pytest.fail(f"no device code printed: {seen}")
    stdout, stderr = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, seen + stderr)
