"""The jit command end to end against the sandbox and the live portal (issue #25's "done when"): sign in with a
device code, a request on Development opens at once, one on Production waits until Hana approves it in her
browser, `jit ssh` runs a stand-in ssh with the right host, port and user, `jit end` ends it; then the same
through --output json, each document validated against cli/output-schema.json."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jsonschema_rs
import pytest
from playwright.sync_api import expect

from requests_app.models import AccessRequest, ApprovalRule
from tests.browser.conftest import sign_in_as
from tests.cli.conftest import ROOT, Jit, device_login

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SCHEMA = json.loads((ROOT / "cli" / "output-schema.json").read_text())


def valid(kind: str, document: dict) -> dict:
    validator = jsonschema_rs.validator_for({**SCHEMA, "$ref": f"#/$defs/{kind}"})
    errors = [e.message for e in validator.iter_errors(document)]
    assert errors == [], (kind, errors, document)
    return document


@pytest.fixture
def production_needs_hana(sandbox):
    prod = next(s["id"] for s in sandbox.info()["subscriptions"] if s["name"] == "Contoso Production")
    return ApprovalRule.objects.create(name="Production", subscription_id=prod, approvals_needed=1)


@pytest.fixture
def hana_page(browser, live_server):
    context = browser.new_context(ignore_https_errors=True, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def wait_for_request(justification: str) -> None:
    """Until the command (another process) has made its request."""
    deadline = time.monotonic() + 30
    while not AccessRequest.objects.filter(justification=justification).exists():
        assert time.monotonic() < deadline, "the command made no request"
        time.sleep(0.2)


def another(jit: Jit, tmp_path: Path, name: str) -> Jit:
    """The command on someone else's machine: its own config folder and token cache."""
    return Jit({**jit.env, "JIT_CONFIG_DIR": str(tmp_path / name)}, jit.ssh_record)


def test_the_flow_in_text(jit, sandbox, production_needs_hana, hana_page):
    assert device_login(jit, sandbox, "alice").returncode == 0

    opened = jit.run("request", "dev-01", "--port", "22", "--for", "1h", "--reason", "debugging the build agent")
    assert opened.returncode == 0, opened.stderr
    assert "Request" in opened.stdout and "Open now" in opened.stdout and "dev-01 port 22" in opened.stdout
    status = jit.run("status")
    assert status.returncode == 0 and "dev-01" in status.stdout and re.search(r"(59|60) min", status.stdout)

    # Production waits for Hana, who approves in her browser while the command shows its live status.
    waiting = jit.start("request", "web-02", "--port", "22", "--reason", "patch openssl", "--wait")
    wait_for_request("patch openssl")
    sign_in_as(hana_page, "Hana Hill")
    hana_page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    expect(hana_page.locator("table.inbox")).to_contain_text("patch openssl")
    hana_page.locator("table.inbox").get_by_role("link").first.click()
    hana_page.get_by_label("Comment").fill("Go ahead")
    hana_page.get_by_role("button", name="Approve and open").click()
    expect(hana_page.locator(".state")).to_have_text("Open now")
    stdout, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, stderr
    assert "Open now" in stdout and "web-02 port 22" in stdout

    # ssh to what is open: the stand-in records host, port and user, and whatever follows --.
    access = json.loads(jit.run("--output", "json", "status").stdout)["items"]
    dev = next(a for a in access if a["vm_name"] == "dev-01")
    connected = jit.run("ssh", "azureuser@dev-01", "--", "uptime")
    assert connected.returncode == 0, connected.stderr
    assert jit.ssh_arguments() == ["-p", str(dev["connect_port"]), "-l", "azureuser", dev["connect_address"], "uptime"]

    ended = jit.run("end", "dev-01")
    assert ended.returncode == 0 and "Ended early" in ended.stdout, ended.stderr
    assert "dev-01" not in jit.run("status").stdout


def test_ssh_requests_when_nothing_is_open_then_connects(jit, sandbox):
    assert device_login(jit, sandbox, "alice").returncode == 0
    connected = jit.run("ssh", "dev-02", "--user", "ops", "--reason", "rotating the logs")
    assert connected.returncode == 0, connected.stderr
    arguments = jit.ssh_arguments()
    assert arguments[:4] == ["-p", "22", "-l", "ops"] and re.fullmatch(r"[\d.]+", arguments[4])
    status = json.loads(jit.run("--output", "json", "status").stdout)["items"]
    assert [(a["vm_name"], a["port"]) for a in status] == [("dev-02", 22)]


def test_the_flow_in_json_against_the_schema(jit, sandbox, production_needs_hana, tmp_path):
    login = device_login(jit, sandbox, "alice", "--output", "json")
    assert login.returncode == 0, login.stderr
    valid("login", json.loads(login.stdout))

    opened = valid("request", jit.json("request", "dev-01", "-p", "22", "--for", "30m", "--reason", "build agent"))
    assert opened["state"] == "Open now" and opened["items"][0]["fate"] == "open"

    waiting = valid("request", jit.json("request", "web-02", "-p", "22", "--reason", "patch openssl", code=7))
    assert waiting["state"] == "Pending approval (0 of 1)"
    # The command points to `jit status` while it waits: there it is (it showed only what was open).
    before = valid("status", jit.json("status"))
    assert [r["id"] for r in before["waiting"]] == [waiting["id"]]
    assert "Pending approval (0 of 1), decided by" in jit.run("status").stdout
    hana = another(jit, tmp_path, "hana")
    assert device_login(hana, sandbox, "hana").returncode == 0
    inbox = valid("approvals", hana.json("approvals"))
    assert [w["request"]["id"] for w in inbox["items"]] == [waiting["id"]] and inbox["items"][0]["can_decide"]
    approved = valid("request", hana.json("approve", str(waiting["id"]), "--comment", "Go ahead"))
    assert approved["state"] == "Open now" and approved["decisions"][0]["approver"] == "hana@contoso.test"

    status = valid("status", jit.json("status"))
    assert sorted(a["vm_name"] for a in status["items"]) == ["dev-01", "web-02"] and status["waiting"] == []
    connected = jit.run("--output", "json", "ssh", "web-02", "-l", "azureuser")
    assert connected.returncode == 0, connected.stderr
    shown = valid("ssh", json.loads(connected.stdout))
    assert (
        jit.ssh_arguments()
        == shown["command"][1:]
        == ["-p", str(shown["access"]["connect_port"]), "-l", "azureuser", shown["access"]["connect_address"]]
    )

    ended = valid("request", jit.json("end", str(waiting["id"])))
    assert ended["state"] == "Ended early"


def test_end_cancels_a_request_still_waiting_for_approval(jit, sandbox, production_needs_hana):
    assert device_login(jit, sandbox, "alice").returncode == 0
    waiting = jit.json("request", "web-02", "-p", "22", "--reason", "patch openssl", code=7)
    cancelled = valid("request", jit.json("end", str(waiting["id"])))  # not "Nothing of this request is open"
    assert cancelled["state"] == "Cancelled"


def test_a_denial_names_the_approver_and_the_comment(jit, sandbox, production_needs_hana, tmp_path):
    assert device_login(jit, sandbox, "alice").returncode == 0
    hana = another(jit, tmp_path, "hana")
    assert device_login(hana, sandbox, "hana").returncode == 0
    waiting = jit.start("request", "web-02", "-p", "22", "--reason", "curious", "--wait")
    wait_for_request("curious")
    inbox = hana.json("approvals")["items"]
    request_id = str(inbox[0]["request"]["id"])
    assert hana.run("deny", request_id).returncode == 2  # a denial needs its comment
    assert hana.run("deny", request_id, "--comment", "Not during the freeze").returncode == 0
    stdout, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 3, stderr
    assert f"Request {request_id} was denied by hana@contoso.test: Not during the freeze" in stderr


def test_errors_in_the_persons_words(jit, sandbox):
    assert device_login(jit, sandbox, "alice").returncode == 0
    too_long = jit.run("request", "dev-01", "-p", "22", "--for", "30h", "--reason", "x")
    assert too_long.returncode == 1 and "24 h" in too_long.stderr, too_long.stderr
    unknown = jit.run("request", "no-such-vm", "--reason", "x")
    assert unknown.returncode == 1 and "No VM named 'no-such-vm'" in unknown.stderr


def test_no_right_in_azure_names_the_right(jit, sandbox):
    """Carol, made a requester in the portal, holds only Reader in Azure: the command says which right is missing."""
    sandbox.control("POST", "people/carol/roles", {"roles": ["JIT.Requester"]})
    assert device_login(jit, sandbox, "carol").returncode == 0
    done = jit.run("request", "dev-01", "-p", "22", "--reason", "x")
    assert done.returncode == 5, done.stderr
    assert "Azure refused: dev-01: Azure gives you read-only access to rg-dev." in done.stderr


def test_no_portal_role_is_sign_in_or_role_needed(jit, sandbox):
    assert device_login(jit, sandbox, "erin").returncode == 0
    done = jit.run("status")
    # The role it needs, named, in a terminal's words (it said "…do not include this page").
    assert done.returncode == 6 and done.stderr == "jit: This needs the portal role JIT.Requester; yours: none.\n"
