"""ARM in the sandbox through the real Subscription, Compute, Network, Monitor and Security clients."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from sandbox.timeutil import format_time
from tests.azure_view import Clients

pytestmark = pytest.mark.integration


def test_the_real_clients_list_the_fleet(clients_for, subs):
    carol = clients_for("carol")
    assert {s.display_name for s in carol.subscriptions.subscriptions.list()} == {
        "Contoso Production",
        "Contoso Development",
        "Contoso Shared Services",
        "Contoso Legacy Apps",
    }
    total = 0
    for sub in subs.values():
        vms = list(carol.compute(sub).virtual_machines.list_all())
        statuses = list(carol.compute(sub).virtual_machines.list_all(status_only="true"))
        assert {v.id for v in vms} == {s.id for s in statuses}
        total += len(vms)
        network = carol.network(sub)
        nic_ids = {n.id.lower() for n in network.network_interfaces.list_all()}
        assert all(v.network_profile.network_interfaces[0].id.lower() in nic_ids for v in vms)
        assert list(network.network_security_groups.list_all()) and list(network.virtual_networks.list_all())
        list(network.public_ip_addresses.list_all())
        list(network.azure_firewalls.list_all())
    assert total == 41 - 1  # the classic VM is listed by Microsoft.ClassicCompute, not here


def test_power_states_come_from_status_only_and_instance_view(clients_for, subs):
    compute = clients_for("carol").compute(subs["prod"])
    states = {
        v.name: [s.code for s in v.instance_view.statuses]
        for v in compute.virtual_machines.list_all(status_only="true")
    }
    assert "PowerState/deallocated" in states["web-06"] and "PowerState/running" in states["web-01"]
    view = compute.virtual_machines.instance_view("rg-sql", "sql-03")
    assert "PowerState/stopped" in [s.code for s in view.statuses]


def test_paging_follows_absolute_next_links_that_carry_the_api_version(sandbox, clients_for, subs, token_for):
    sandbox.control("POST", "config", {"page_size": 5})
    names = [v.name for v in clients_for("carol").compute(subs["dev"]).virtual_machines.list_all()]
    assert len(names) == len(set(names)) == 16
    raw = (
        sandbox.http()
        .get(
            f"{sandbox.base_url}/subscriptions/{subs['dev']}/providers/Microsoft.Compute/virtualMachines",
            params={"api-version": "2026-04-01"},
            headers={"Authorization": f"Bearer {token_for('carol')}"},
        )
        .json()
    )
    assert (
        raw["nextLink"].startswith(f"{sandbox.base_url}/subscriptions/") and "api-version=2026-04-01" in raw["nextLink"]
    )


def test_it_refuses_a_bad_and_an_expired_token(sandbox, clients_for, subs):
    with pytest.raises(ClientAuthenticationError):
        list(Clients(sandbox, "not-a-token").subscriptions.subscriptions.list())
    carol = clients_for("carol")
    sandbox.advance("PT2H")
    with pytest.raises(ClientAuthenticationError) as caught:
        list(carol.subscriptions.subscriptions.list())
    assert caught.value.error.code == "ExpiredAuthenticationToken"


# person → (can read prod VMs, can write a JIT policy in prod, can initiate in prod, can read legacy)
RBAC = {
    "alice": (True, False, True, False),
    "bob": (True, True, True, True),
    "carol": (True, False, False, True),
    "dave": (False, False, False, False),
    "frank": (True, False, False, True),
    "grace": (True, False, False, True),  # on Legacy apps only the requester role, which reads VMs
}


def _outcome(call) -> bool:
    try:
        call()
        return True
    except HttpResponseError as error:
        assert error.status_code == 403, error
        assert error.error.code == "AuthorizationFailed"
        assert "does not have authorization to perform action 'Microsoft." in error.error.message
        return False


@pytest.mark.parametrize("person", sorted(RBAC))
def test_rbac_allows_and_refuses_as_azure_would(clients_for, subs, person):
    clients = clients_for(person)
    security = clients.security(subs["prod"])
    end = format_time(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30))
    vm = f"/subscriptions/{subs['prod']}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01"
    policy = security.jit_network_access_policies.get("rg-web", "westeurope", "default") if person == "bob" else None
    outcome = (
        _outcome(lambda: list(clients.compute(subs["prod"]).virtual_machines.list_all())),
        _outcome(
            lambda: security.jit_network_access_policies.create_or_update(
                "rg-web",
                "westeurope",
                "default",
                policy
                or {
                    "kind": "Basic",
                    "properties": {
                        "virtualMachines": [
                            {
                                "id": vm,
                                "ports": [
                                    {
                                        "number": 22,
                                        "protocol": "*",
                                        "allowedSourceAddressPrefix": "*",
                                        "maxRequestAccessDuration": "PT3H",
                                    }
                                ],
                            }
                        ]
                    },
                },
            )
        ),
        _outcome(
            lambda: security.jit_network_access_policies.initiate(
                "rg-web",
                "westeurope",
                "default",
                {
                    "virtualMachines": [
                        {
                            "id": vm,
                            "ports": [{"number": 22, "endTimeUtc": end, "allowedSourceAddressPrefix": "203.0.113.5"}],
                        }
                    ],
                    "justification": "rbac test",
                },
            )
        ),
        _outcome(lambda: list(clients.compute(subs["legacy"]).virtual_machines.list_all())),
    )
    assert outcome == RBAC[person]


def test_a_resource_group_reader_sees_only_that_group(clients_for, subs):
    names = {v.name for v in clients_for("grace").compute(subs["shared"]).virtual_machines.list_all()}
    assert names == {"ad-01", "ad-02", "ad-03"}


def _policy_vm(subs, name="build-01", rg="rg-build"):
    return f"/subscriptions/{subs['dev']}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


def _enable(bob, subs, ports=None, name="build-01"):
    ports = ports or [
        {"number": 22, "protocol": "TCP", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT2H"}
    ]
    return bob.security(subs["dev"]).jit_network_access_policies.create_or_update(
        "rg-build",
        "westus2",
        "default",
        {"kind": "Basic", "properties": {"virtualMachines": [{"id": _policy_vm(subs, name), "ports": ports}]}},
    )


def _jit_rules(clients, subs):
    nsg = clients.network(subs["dev"]).network_security_groups.get("rg-build", "nsg-rg-build-default")
    return [r for r in nsg.security_rules if r.name.startswith("SecurityCenter-JITRule")]


def _request(clients, subs, number=22, hours=1.0, prefix="203.0.113.5"):
    end = format_time(dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours))
    return clients.security(subs["dev"]).jit_network_access_policies.initiate(
        "rg-build",
        "westus2",
        "default",
        {
            "virtualMachines": [
                {
                    "id": _policy_vm(subs),
                    "ports": [{"number": number, "endTimeUtc": end, "allowedSourceAddressPrefix": prefix}],
                }
            ],
            "justification": "semantics test",
        },
    )


def test_enabling_adds_a_deny_rule_and_a_request_an_allow_rule_until_it_expires(sandbox, clients_for, subs):
    bob, alice = clients_for("bob"), clients_for("alice")
    _enable(bob, subs)
    rules = _jit_rules(bob, subs)
    assert [(r.access, r.destination_port_range) for r in rules] == [("Deny", "22")]
    _request(alice, subs)
    allow = [r for r in _jit_rules(bob, subs) if r.access == "Allow"]
    assert len(allow) == 1 and allow[0].source_address_prefix == "203.0.113.5" and allow[0].priority < rules[0].priority
    sandbox.advance("PT61M")
    bob = clients_for("bob", fresh=True)  # the first token has expired by the sandbox clock
    assert [r.access for r in _jit_rules(bob, subs)] == ["Deny"]
    policy = bob.security(subs["dev"]).jit_network_access_policies.get("rg-build", "westus2", "default")
    port = policy.requests[-1].virtual_machines[0].ports[0]
    assert (port.status, port.status_reason) == ("Revoked", "Expired")


def test_a_newer_request_revokes_the_older_one_on_the_same_port(clients_for, subs):
    bob, alice = clients_for("bob"), clients_for("alice")
    _enable(bob, subs)
    _request(alice, subs, prefix="203.0.113.5")
    _request(bob, subs, prefix="198.51.100.7")
    requests = bob.security(subs["dev"]).jit_network_access_policies.get("rg-build", "westus2", "default").requests
    assert [(r.requestor, r.virtual_machines[0].ports[0].status_reason) for r in requests] == [
        ("alice@contoso.test", "NewerRequestInitiated"),
        ("bob@contoso.test", "UserRequested"),
    ]
    assert [r.source_address_prefix for r in _jit_rules(bob, subs) if r.access == "Allow"] == ["198.51.100.7"]


@pytest.mark.parametrize(
    "number, hours, prefix, policy_prefixes",
    [
        (3389, 1, "203.0.113.5", None),  # a port the policy does not have
        (22, 3, "203.0.113.5", None),  # longer than the two-hour maximum
        (22, 1, "10.0.0.0/25", ["10.0.0.0/24"]),  # not verbatim one of the allowed prefixes
        (22, -0.01, "203.0.113.5", None),  # an end already past: "end now" must ask for a little later
    ],
)
def test_initiate_refuses_what_is_not_a_subset_of_the_policy(clients_for, subs, number, hours, prefix, policy_prefixes):
    bob = clients_for("bob")
    port = {"number": 22, "protocol": "TCP", "maxRequestAccessDuration": "PT2H"}
    port.update(
        {"allowedSourceAddressPrefixes": policy_prefixes} if policy_prefixes else {"allowedSourceAddressPrefix": "*"}
    )
    _enable(bob, subs, [port])
    with pytest.raises(HttpResponseError) as caught:
        _request(bob, subs, number=number, hours=hours, prefix=prefix)
    assert caught.value.status_code == 400
    assert "is not a subset of policy" in caught.value.error.message


@pytest.mark.parametrize(
    "port, words",
    [
        ({"number": 70000}, "between 0 and 65535"),
        ({"protocol": "ICMP"}, "Protocol"),
        ({"maxRequestAccessDuration": "PT2M"}, "between 5 minutes and 1 day"),
        ({"maxRequestAccessDuration": "P2D"}, "between 5 minutes and 1 day"),
        ({"allowedSourceAddressPrefixes": ["10.0.0.0/24"]}, "either allowedSourceAddressPrefix"),
        ({"allowedSourceAddressPrefix": "not-an-ip"}, "invalid allowed source"),
    ],
)
def test_put_validates_ports(clients_for, subs, port, words):
    base = {"number": 22, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}
    with pytest.raises(HttpResponseError) as caught:
        _enable(clients_for("bob"), subs, [{**base, **port}])
    assert caught.value.status_code == 400 and words in caught.value.error.message


def test_put_keeps_request_history_and_refuses_a_vm_of_another_group(clients_for, subs):
    bob = clients_for("bob")
    security = bob.security(subs["prod"])
    before = security.jit_network_access_policies.get("rg-web", "westeurope", "default")
    assert len(before.requests) >= 3
    before.virtual_machines = before.virtual_machines[:1]
    after = security.jit_network_access_policies.create_or_update("rg-web", "westeurope", "default", before)
    assert len(after.virtual_machines) == 1 and len(after.requests) == len(before.requests)
    with pytest.raises(HttpResponseError) as caught:
        _enable(bob, subs, name="dev-01")  # dev-01 lives in rg-dev, not rg-build
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "rg, location, vm, words",
    [
        ("rg-legacy", "westeurope", "legacy-01", "no network security group"),
        ("rg-fwmgr", "westus2", "fw-01", "Firewall Manager"),
    ],
)
def test_put_refuses_vms_jit_cannot_protect(clients_for, subs, rg, location, vm, words):
    sub = subs["prod"] if rg == "rg-legacy" else subs["dev"]
    vm_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"
    with pytest.raises(HttpResponseError) as caught:
        clients_for("bob").security(sub).jit_network_access_policies.create_or_update(
            rg,
            location,
            "default",
            {
                "properties": {
                    "virtualMachines": [
                        {
                            "id": vm_id,
                            "ports": [
                                {
                                    "number": 22,
                                    "protocol": "*",
                                    "allowedSourceAddressPrefix": "*",
                                    "maxRequestAccessDuration": "PT3H",
                                }
                            ],
                        }
                    ]
                }
            },
        )
    assert caught.value.status_code == 400 and words in caught.value.error.message


def test_defender_plan_and_classic_vms_are_visible_to_the_portal(clients_for, subs, token_for, sandbox):
    plans = {
        name: clients_for("carol").security(sub).pricings.list(f"subscriptions/{sub}").value[0].sub_plan
        for name, sub in subs.items()
    }
    assert plans == {"prod": "P2", "dev": "P2", "shared": "P2", "legacy": "P1"}
    classic = (
        sandbox.http()
        .get(
            f"{sandbox.base_url}/subscriptions/{subs['prod']}/providers/Microsoft.ClassicCompute/virtualMachines",
            params={"api-version": "2017-04-01"},
            headers={"Authorization": f"Bearer {token_for('carol')}"},
        )
        .json()
    )
    assert [v["name"] for v in classic["value"]] == ["classic-01"]


def test_the_activity_log_records_jit_operations_and_accepts_only_arm_filters(clients_for, subs):
    bob = clients_for("bob")
    _enable(bob, subs)
    _request(clients_for("alice"), subs)
    now = dt.datetime.now(dt.UTC)
    window = f"eventTimestamp ge '{format_time(now - dt.timedelta(days=7))}' and eventTimestamp le '{format_time(now + dt.timedelta(hours=1))}'"
    monitor = clients_for("carol").monitor(subs["dev"])
    events = list(monitor.activity_logs.list(window + " and resourceGroupName eq 'rg-build'"))
    ended = [(e.operation_name.localized_value, e.caller) for e in events if e.event_name.value == "EndRequest"]
    assert ended == [
        ("Initiate JIT Network Access Policy", "alice@contoso.test"),
        ("Create or Update JIT Network Access Policy", "bob@contoso.test"),
    ]
    assert all(e.resource_id.endswith("/jitNetworkAccessPolicies/default") for e in events)
    with pytest.raises(HttpResponseError) as caught:
        list(monitor.activity_logs.list(window + " and caller eq 'alice@contoso.test'"))
    assert caught.value.status_code == 400
    with pytest.raises(HttpResponseError):
        list(monitor.activity_logs.list(window + " and resourceGroupName eq 'a' and correlationId eq 'b'"))


def test_faults_and_latency_are_seen_by_the_real_clients(sandbox, clients_for, subs):
    carol = clients_for("carol")
    sandbox.control("POST", "faults", {"operation": "vms.list", "kind": "429", "count": 1, "retry_after": 1})
    assert len(list(carol.compute(subs["dev"]).virtual_machines.list_all())) == 16
    assert sandbox.control("GET", "stats")["calls"]["vms.list"] == 2  # azure-core waited and retried
    sandbox.control("POST", "faults", {"operation": "vms.list", "kind": "drop", "count": 1})
    assert len(list(carol.compute(subs["dev"]).virtual_machines.list_all())) == 16
    sandbox.control("POST", "faults", {"operation": "vms.list", "kind": "503", "count": 10, "retry_after": 0})
    with pytest.raises(HttpResponseError) as caught:
        list(carol.compute(subs["dev"]).virtual_machines.list_all())
    assert caught.value.status_code == 503
    sandbox.control("DELETE", "faults")
    sandbox.control("POST", "latency", {"operation": "subscriptions.list", "ms": 300})
    started = dt.datetime.now()
    list(carol.subscriptions.subscriptions.list())
    assert (dt.datetime.now() - started).total_seconds() >= 0.3
