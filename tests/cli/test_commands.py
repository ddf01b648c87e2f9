"""The rest of the jit command end to end (issue #25), the real command against the live portal and the sandbox:
`jit ls`, `jit rdp`, `jit extend`, `jit end` of one port or of several, and `jit audit --csv` — text, exit codes,
and --output json against cli/output-schema.json."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit.csv_export import AZURE_COLUMNS, PORTAL_COLUMNS
from tests.cli.conftest import Jit, device_login
from tests.cli.test_flow import another, valid

pytestmark = [pytest.mark.integration]


@pytest.fixture
def alice(jit, sandbox) -> Jit:
    assert device_login(jit, sandbox, "alice").returncode == 0
    return jit


def ports_open(jit: Jit) -> list[tuple[str, int]]:
    return sorted((a["vm_name"], a["port"]) for a in jit.json("status")["items"])


# --- jit ls --------------------------------------------------------------------------------------------------
def test_ls_lists_a_tab_narrowed_by_the_filter(alice):
    configured = alice.run("ls")
    assert configured.returncode == 0, configured.stderr
    assert re.search(r"dev-01\s+rg-dev\s+Contoso Development\s+Linux\s+running\s+22 \(≤ 3 h\)", configured.stdout)
    assert "build-01" not in configured.stdout  # not configured: another tab
    built = valid("ls", alice.json("ls", "--tab", "not-configured", "--filter", "build"))
    assert built["tab"] == "not-configured" and sorted(v["name"] for v in built["items"]) == [
        f"build-{i:02d}" for i in range(1, 6)
    ]
    assert all(v["tab"] == "not-configured" and v["ports"] == [] for v in built["items"])
    unsupported = valid("ls", alice.json("ls", "--tab", "unsupported", "--filter", "classic"))
    assert [(v["name"], v["reason"]) for v in unsupported["items"]] == [("classic-01", "Classic VM")]
    nothing = alice.run("ls", "--filter", "no-such-words")
    assert nothing.returncode == 0 and nothing.stdout.strip() == "No VM on the configured tab."
    assert alice.run("ls", "--tab", "everything").returncode == 2  # click names the tabs it takes


# --- jit rdp -------------------------------------------------------------------------------------------------
STAND_IN = '#!/bin/sh\nprintf \'%s\\n\' "$@" >> "{record}"\n{extra}'


def desktop(jit: Jit, tmp_path: Path, rdp_handler: str) -> tuple[Jit, Path]:
    """The command on a desktop whose PATH holds only stand-ins: xdg-open (records what it opens) and xdg-mime,
    which names `rdp_handler` as the default application for .rdp files ("" where no RDP client is installed)."""
    bin_dir, opened = tmp_path / "desktop", tmp_path / "opened"
    bin_dir.mkdir()
    (bin_dir / "xdg-open").write_text(STAND_IN.format(record=opened, extra=""))
    (bin_dir / "xdg-mime").write_text(f"#!/bin/sh\n[ -n '{rdp_handler}' ] && echo '{rdp_handler}'\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return Jit({**jit.env, "PATH": str(bin_dir)}, jit.ssh_record), opened


def test_rdp_writes_the_file_with_the_address_and_port_and_says_when_nothing_can_open_it(alice, tmp_path):
    bare, opened = desktop(alice, tmp_path, "")
    target = tmp_path / "dev-02.rdp"
    done = bare.run("rdp", "admin@dev-02", "--reason", "checking IIS", "--file", str(target))
    assert done.returncode == 0, done.stderr
    [access] = alice.json("status")["items"]
    address = f"{access['connect_address']}:{access['connect_port']}"
    assert (access["vm_name"], access["port"]) == ("dev-02", 3389)
    assert target.read_bytes().decode().split("\r\n")[:4] == [
        f"full address:s:{address}",
        "prompt for credentials:i:1",
        "administrative session:i:0",
        "username:s:admin",
    ]
    assert done.stdout.strip() == (
        f"Wrote {target} ({address}). No RDP client to open it here: open it with yours "
        f"(Windows App, Remmina, xfreerdp /v:{address})."
    )
    assert not opened.exists()  # xdg-open is there, but would open nothing: it is not run

    shown = valid("rdp", json.loads(bare.run("-o", "json", "rdp", "dev-02", "--file", str(target)).stdout))
    assert shown["opened"] is False and shown["access"]["request_id"] == access["request_id"]  # open already


def test_rdp_opens_the_file_where_the_desktop_has_an_rdp_client(alice, tmp_path):
    with_client, opened = desktop(alice, tmp_path, "org.remmina.Remmina.desktop")
    target = tmp_path / "dev-02.rdp"
    done = with_client.run("rdp", "dev-02", "--reason", "checking IIS", "--file", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("; opening it with xdg-open.")
    deadline = time.monotonic() + 10
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert opened.read_text().splitlines() == [str(target)]


# --- jit extend and jit end ----------------------------------------------------------------------------------
def test_extend_opens_a_new_window_from_now(alice):
    assert alice.run("request", "dev-01", "-p", "22", "--for", "30m", "--reason", "build agent").returncode == 0
    [before] = alice.json("status")["items"]
    assert before["seconds_left"] <= 30 * 60
    extended = valid("request", alice.json("extend", "dev-01", "--for", "2h"))
    assert extended["state"] == "Open now" and extended["duration_minutes"] == 120
    [after] = valid("status", alice.json("status"))["items"]
    assert after["request_id"] == extended["id"] != before["request_id"] and after["seconds_left"] > 110 * 60
    assert re.search(r"dev-01\s+22\s+\S+\s+\S+\s+(1 h 59 min|2 h 00 min)", alice.run("status").stdout)
    too_long = alice.run("extend", "dev-01", "--for", "5h")  # past the port's 3 h
    assert too_long.returncode == 1 and "3 h" in too_long.stderr, too_long.stderr


def test_end_of_several_ports_names_them_and_wants_a_port_or_all(alice):
    asked = alice.json("request", "dev-01", "-p", "22", "-p", "3389", "--reason", "two ports")
    several = alice.run("end", "dev-01")  # no terminal to ask in: a script must say which
    assert several.returncode == 2
    assert several.stderr == (
        f"jit: Request {asked['id']} has 2 ports open on dev-01: dev-01 port 22, dev-01 port 3389. "
        "Give --port to end one, or --all to end all 2.\n"
    )
    assert ports_open(alice) == [("dev-01", 22), ("dev-01", 3389)]

    one = alice.run("end", "dev-01", "--port", "3389")
    assert one.returncode == 0, one.stderr
    assert "Ended dev-01 port 3389: it closes within a minute." in one.stderr
    assert re.search(r"dev-01 port 3389 from \S+: ended early", one.stdout) and "dev-01 port 22 from" in one.stdout
    assert ports_open(alice) == [("dev-01", 22)]
    missing = alice.run("end", "dev-01", "--port", "3389")
    assert (
        missing.returncode == 1
        and missing.stderr == "jit: Nothing is open on dev-01 port 3389 (open: dev-01 port 22).\n"
    )

    last = valid("request", alice.json("end", "dev-01"))  # one port left: it ends without asking
    assert last["state"] == "Ended early" and ports_open(alice) == []


def test_end_of_several_ports_at_a_terminal_asks_first(alice):
    """A person at a terminal is asked, as the web's "End all N" asks; no ends nothing, yes ends them all."""
    asked = alice.json("request", "dev-01", "-p", "22", "-p", "3389", "--reason", "two ports")

    def answered(answer: str) -> tuple[int, str]:
        terminal, side = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "jit_cli", "end", "dev-01"],
            env=alice.env,
            stdin=side,
            stdout=subprocess.PIPE,
            stderr=side,
            text=True,
        )
        os.close(side)
        seen, deadline = "", time.monotonic() + 30
        while "End all 2?" not in seen and time.monotonic() < deadline:
            seen += os.read(terminal, 1024).decode()
        os.write(terminal, f"{answer}\n".encode())
        process.communicate(timeout=30)
        os.close(terminal)
        return process.returncode, seen

    code, prompt = answered("n")
    assert (
        code == 1
        and f"Request {asked['id']} has 2 ports open on dev-01: dev-01 port 22, dev-01 port 3389. End all 2? [y/N]"
        in prompt.replace("\r\n", " ")
    )
    assert ports_open(alice) == [("dev-01", 22), ("dev-01", 3389)]
    assert answered("y")[0] == 0 and ports_open(alice) == []


def test_end_of_a_vm_open_in_two_requests_takes_the_port_to_tell_them_apart(alice):
    alice.json("request", "dev-01", "-p", "22", "--reason", "first")
    alice.json("request", "dev-01", "-p", "3389", "--reason", "second")
    both = alice.run("end", "dev-01")
    assert both.returncode == 2 and "dev-01 has ports open in 2 requests" in both.stderr
    assert alice.run("end", "dev-01", "-p", "22").returncode == 0 and ports_open(alice) == [("dev-01", 3389)]


def test_end_all_of_a_request_ends_every_vm_of_it(alice):
    asked = alice.json("request", "dev-01", "dev-02", "-p", "22", "--reason", "both agents")
    assert alice.run("end", str(asked["id"])).returncode == 2
    ended = valid("request", alice.json("end", str(asked["id"]), "--all"))
    assert ended["state"] == "Ended early" and {i["fate"] for i in ended["items"]} == {"ended early"}
    assert ports_open(alice) == []


def test_end_of_a_vm_ends_that_vms_ports_alone(alice):
    alice.json("request", "dev-01", "dev-02", "-p", "22", "--reason", "both agents")
    ended = valid("request", alice.json("end", "dev-02"))
    assert ended["state"] == "Open now" and {i["vm_name"]: i["fate"] for i in ended["items"]} == {
        "dev-01": "open",
        "dev-02": "ended early",
    }
    assert ports_open(alice) == [("dev-01", 22)]


# --- jit audit -----------------------------------------------------------------------------------------------
def test_audit_csv_for_an_auditor_with_its_header_on_line_1(alice, sandbox, tmp_path):
    assert alice.run("request", "dev-01", "-p", "22", "--reason", "audited work").returncode == 0
    carol = another(alice, tmp_path, "carol")
    assert device_login(carol, sandbox, "carol").returncode == 0
    done = carol.run("audit", "--since", "1d", "--csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout.removeprefix("\ufeff"))))  # the BOM spreadsheets want
    assert rows[0] == AZURE_COLUMNS + PORTAL_COLUMNS
    mine = [dict(zip(rows[0], r, strict=True)) for r in rows[1:] if "audited work" in r]
    assert mine and {(r["Event initiated by"], r["VM"]) for r in mine} == {("alice@contoso.test", "dev-01")}
    report = valid("audit", carol.json("audit", "--since", "1d", "--vm", "dev-01"))
    assert {r["initiated_by"] for r in report["items"] if r["vms"] == "dev-01"} >= {"alice@contoso.test"}


def test_audit_refuses_a_non_auditor_in_words_with_exit_code_6(alice):
    refused = alice.run("audit", "--since", "7d", "--csv")
    assert refused.returncode == 6 and refused.stdout == ""
    assert refused.stderr == "jit: This needs the portal role JIT.Admin or JIT.Auditor; yours: JIT.Requester.\n"
    as_json = valid("error", alice.json("audit", code=6))
    assert as_json["error"]["exit_code"] == 6 and as_json["error"]["kind"] == "forbidden"
