"""The sandbox as a process: certificates and state survive a restart, reset restores the seed,
and the control API generates fleets and counts what ARM served."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from sandbox import demo
from tests.azure_view import Clients, auth_code_result
from tests.sandbox_client import start

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(sandbox) -> None:
    sandbox.process.terminate()
    assert sandbox.process.wait(timeout=10) == 0


def test_a_restart_keeps_the_certificate_and_the_state_and_reset_restores_the_seed(tmp_path):
    first = start(_free_port(), tmp_path)
    ca = first.ca_path.read_bytes()
    first.control("POST", "people/alice/roles", {"roles": ["JIT.Admin"]})
    first.control("POST", "clock", {"advance": "PT5H"})
    _stop(first)

    second = start(_free_port(), tmp_path)
    try:
        assert second.ca_path.read_bytes() == ca
        alice = next(p for p in second.info()["people"] if p["username"] == "alice@contoso.test")
        assert alice["app_roles"] == ["JIT.Admin"]
        assert second.control("GET", "clock")["offset_seconds"] >= 5 * 3600
        second.control("POST", "reset")
        alice = next(p for p in second.info()["people"] if p["username"] == "alice@contoso.test")
        assert alice["app_roles"] == ["JIT.Requester"]
        assert second.control("GET", "clock")["offset_seconds"] == 0
    finally:
        _stop(second)


def test_info_describes_what_a_client_needs(sandbox):
    info = sandbox.info()
    assert info["authority"] == f"{sandbox.base_url}/{info['tenant_id']}" and info["arm_url"] == sandbox.base_url
    assert {p["username"] for p in info["people"]} >= {
        f"{k}@contoso.test" for k in ("alice", "bob", "carol", "dave", "erin")
    }
    assert "loopback" in info["redirect_uris"]


def _environment(base_url: str, ca_path: Path) -> dict[str, str]:
    return {
        "AZURE_TENANT_ID": demo.TENANT_ID,
        "AZURE_CLIENT_ID": demo.CLIENT_ID,
        "AZURE_CLIENT_SECRET": demo.CLIENT_SECRET,
        "AZURE_CLI_CLIENT_ID": demo.CLI_CLIENT_ID,
        "AZURE_AUTHORITY": f"{base_url}/{demo.TENANT_ID}",
        "AZURE_ARM_URL": base_url,
        "AZURE_CA_BUNDLE": str(ca_path),
        "AZURE_INSTANCE_DISCOVERY": "false",
    }


def test_it_publishes_the_connection_settings_in_a_file_only_its_owner_reads(tmp_path):
    sandbox = start(_free_port(), tmp_path)
    try:
        path = tmp_path / "connection.env"
        first, *lines = path.read_text().splitlines()
        assert first.startswith("# ") and "sandbox" in first
        values = dict(line.split("=", 1) for line in lines)
        assert values == _environment(sandbox.base_url, sandbox.ca_path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir() if "connection" in p.name] == ["connection.env"]  # no temp file left
        discovery = sandbox.http().get(
            f"{values['AZURE_AUTHORITY']}/v2.0/.well-known/openid-configuration",
            verify=values["AZURE_CA_BUNDLE"],
            timeout=10,
        )
        assert discovery.json()["issuer"] == f"{values['AZURE_AUTHORITY']}/v2.0"
    finally:
        _stop(sandbox)


def test_info_carries_the_same_connection_settings(sandbox):
    assert sandbox.info()["environment"] == _environment(sandbox.base_url, sandbox.ca_path)


def test_the_seed_populates_every_tab_and_reason(sandbox, clients_for, subs):
    carol = clients_for("carol")
    vm_count = sum(len(list(carol.compute(s).virtual_machines.list_all())) for s in subs.values())
    policies = [p for s in subs.values() for p in carol.security(s).jit_network_access_policies.list()]
    configured = {vm.id for p in policies for vm in p.virtual_machines}
    requestors = {r.requestor for p in policies for r in p.requests}
    statuses = {port.status for p in policies for r in p.requests for vm in r.virtual_machines for port in vm.ports}
    assert vm_count + 1 == 41 and len(configured) == 10  # + the classic VM
    assert requestors == {"alice@contoso.test", "bob@contoso.test"} and statuses == {"Initiated", "Revoked"}
    regions = {v.location for s in subs.values() for v in carol.compute(s).virtual_machines.list_all()}
    assert len(regions) == 4


def test_a_generated_fleet_spreads_vms_over_subscriptions_and_stats_count_calls(sandbox):
    sandbox.control("POST", "fleet", {"vms": 1000, "subscriptions": 20})
    result, _, _ = auth_code_result(sandbox, "carol")
    carol = Clients(sandbox, result["access_token"])
    sandbox.control("POST", "stats")
    subscriptions = list(carol.subscriptions.subscriptions.list())
    assert len(subscriptions) == 20
    total = sum(len(list(carol.compute(s.subscription_id).virtual_machines.list_all())) for s in subscriptions)
    assert total == 1000
    calls = sandbox.control("GET", "stats")["calls"]
    assert calls["subscriptions.list"] == 1
    assert calls["vms.list"] == 20  # one page of up to 200 per subscription of 50 VMs


def test_the_control_api_refuses_nonsense(sandbox):
    http = sandbox.http()
    assert http.post(f"{sandbox.base_url}/_sandbox/clock", json={"advance": "two hours"}).status_code == 400
    assert http.post(f"{sandbox.base_url}/_sandbox/faults", json={"kind": "418"}).status_code == 400
    assert http.post(f"{sandbox.base_url}/_sandbox/fleet", json={"vms": -1, "subscriptions": 2}).status_code == 400
    assert http.post(f"{sandbox.base_url}/_sandbox/people/mallory/roles", json={"roles": []}).status_code == 400
