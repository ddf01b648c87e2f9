"""The fleet through Resource Graph, at our own boundary: batches, the quota, rights read at the subscription
first, the same fleet from Resource Graph's rows as from the ARM lists, and the fall back to ARM's lists when
Resource Graph refuses a batch (core/gateway/graph.py, core/gateway/fleet.py)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from core.gateway import UNKNOWN, AccessDenied, Permissions, Subscription, Throttled, fleet, graph
from vms.inventory import covers

SUB = Subscription("0b1c2d3e-aaaa-4bbb-8ccc-0123456789ab", "Contoso", "Enabled")
RG = f"/subscriptions/{SUB.subscription_id}/resourceGroups/rg-web/providers"
VM_ID, NIC_ID, NSG_ID = (
    f"{RG}/Microsoft.Compute/virtualMachines/web-01",
    f"{RG}/Microsoft.Network/networkInterfaces/web-01-nic",
    f"{RG}/Microsoft.Network/networkSecurityGroups/web-nsg",
)
VNET_ID, PIP_ID = f"{RG}/Microsoft.Network/virtualNetworks/vnet", f"{RG}/Microsoft.Network/publicIPAddresses/web-ip"
FW_ID = f"{RG}/Microsoft.Network/azureFirewalls/fw"
CLASSIC_ID = f"{RG}/Microsoft.ClassicCompute/virtualMachines/old-01"
CONFIG = {
    "name": "ipconfig1",
    "properties": {
        "primary": True,
        "privateIPAddress": "10.0.0.4",
        "publicIPAddress": {"id": PIP_ID},
        "subnet": {"id": f"{VNET_ID}/subnets/default"},
    },
}
SUBNETS = [
    {"id": f"{VNET_ID}/subnets/default", "properties": {"networkSecurityGroup": {"id": NSG_ID}}},
    {"id": f"{VNET_ID}/subnets/AzureFirewallSubnet", "properties": {}},
]
RULE = {
    "name": "ssh",
    "id": f"{NSG_ID}/securityRules/ssh",
    "properties": {
        "priority": 100,
        "access": "Allow",
        "protocol": "Tcp",
        "direction": "Inbound",
        "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "22",
    },
}
OUT = {"name": "out", "properties": {"priority": 100, "access": "Allow", "direction": "Outbound"}}
DEFAULT = {
    "name": "DenyAllInBound",
    "properties": {
        "priority": 65500,
        "access": "Deny",
        "protocol": "*",
        "direction": "Inbound",
        "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "*",
    },
}
FW_CONFIG = [{"properties": {"subnet": {"id": f"{VNET_ID}/subnets/AzureFirewallSubnet"}}}]


def _arm_lists() -> dict[str, list]:
    """The seeded resources as ARM lists them (a page's nine lists, JIT policies empty)."""
    return {
        "vms": [
            {
                "id": VM_ID,
                "name": "web-01",
                "location": "westeurope",
                "properties": {
                    "storageProfile": {"osDisk": {"osType": "Linux"}},
                    "osProfile": {"adminUsername": "azureuser"},
                    "networkProfile": {"networkInterfaces": [{"id": NIC_ID}]},
                },
            }
        ],
        "power": [
            {
                "id": VM_ID,
                "properties": {
                    "instanceView": {
                        "statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/deallocated"}]
                    }
                },
            }
        ],
        "nics": [{"id": NIC_ID, "properties": {"ipConfigurations": [CONFIG]}}],
        "vnets": [
            {"id": VNET_ID, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": SUBNETS}}
        ],
        "pips": [{"id": PIP_ID, "properties": {"ipAddress": "203.0.113.9"}}],
        "firewalls": [
            {"id": FW_ID, "name": "fw", "properties": {"ipConfigurations": FW_CONFIG, "firewallPolicy": {"id": "/p"}}}
        ],
        "classic": [
            {
                "id": CLASSIC_ID,
                "name": "old-01",
                "location": "westeurope",
                "properties": {
                    "instanceView": {"powerState": "Started"},
                    "storageProfile": {"operatingSystemDisk": {"operatingSystem": "Windows"}},
                },
            }
        ],
        "pricings": [{"name": "VirtualMachines", "properties": {"pricingTier": "Standard", "subPlan": "P1"}}],
        "policies": [],
        "nsgs": [
            {
                "id": NSG_ID,
                "name": "web-nsg",
                "properties": {"securityRules": [RULE, OUT], "defaultSecurityRules": [DEFAULT]},
            }
        ],
    }


def _graph_rows() -> dict[str, list]:
    """The same resources as docs/resource-graph.md's queries project them."""
    sub = SUB.subscription_id
    return {
        "g:vms": [
            {
                "id": VM_ID,
                "name": "web-01",
                "location": "westeurope",
                "subscriptionId": sub,
                "osType": "Linux",
                "power": "PowerState/deallocated",
                "nics": [{"id": NIC_ID}],
                "admin": "azureuser",
            }
        ],
        "g:classic": [
            {
                "id": CLASSIC_ID,
                "name": "old-01",
                "location": "westeurope",
                "subscriptionId": sub,
                "classicPower": "Started",
                "classicOs": "Windows",
            }
        ],
        "g:nics": [{"id": NIC_ID, "subscriptionId": sub, "nsg": "", "ipConfigurations": [CONFIG]}],
        "g:vnets": [{"id": VNET_ID, "subscriptionId": sub, "prefixes": ["10.0.0.0/16"], "subnets": SUBNETS}],
        "g:pips": [{"id": PIP_ID, "subscriptionId": sub, "ip": "203.0.113.9"}],
        "g:firewalls": [
            {"id": FW_ID, "name": "fw", "subscriptionId": sub, "ipConfigurations": FW_CONFIG, "firewallPolicy": "/p"}
        ],
        "g:nsgs": [
            {
                "id": NSG_ID,
                "name": "web-nsg",
                "subscriptionId": sub,
                "securityRules": [RULE, OUT],
                "defaultSecurityRules": [DEFAULT],
            }
        ],
        "g:pricings": [
            {"id": "/p", "name": "VirtualMachines", "subscriptionId": sub, "pricingTier": "Standard", "subPlan": "P1"}
        ],
        "policies": [],
    }


def test_resource_graphs_rows_make_the_same_fleet_as_the_arm_lists():
    assert fleet._assemble_graph(SUB, _graph_rows()) == fleet._assemble(SUB, _arm_lists())


def test_a_missing_power_state_or_pricing_reads_as_azure_lists_them():
    rows = _graph_rows()
    rows["g:vms"][0]["power"] = ""
    rows["g:pricings"] = []
    arm = _arm_lists()
    arm["power"], arm["pricings"] = [], []
    made = fleet._assemble_graph(SUB, rows)
    assert made == fleet._assemble(SUB, arm)
    assert made.vms[0].power_state == "unknown" and made.jit_plan_available


def test_batches_stay_under_300_subscriptions_in_order():
    ids = [f"s{n}" for n in range(1000)]
    found = graph.batches(ids, 500)
    assert max(len(b) for b in found) == 299 and [s for b in found for s in b] == ids
    assert graph.batches(ids[:5], 2) == [["s0", "s1"], ["s2", "s3"], ["s4"]]


def test_no_query_leaves_before_the_quota_resets_once_none_remains(settings):
    quota = graph.Quota()
    quota.note({"x-ms-user-quota-remaining": "3", "x-ms-user-quota-resets-after": "00:00:05"})
    started = time.monotonic()
    quota.wait("a test")
    assert time.monotonic() - started < 0.05
    quota.note({"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:00.4"})
    quota.wait("a test")
    assert time.monotonic() - started >= 0.35


def test_a_quota_that_resets_too_late_refuses_the_query_rather_than_wait(settings):
    settings.GRAPH_QUOTA_WAIT_SECONDS = 10
    quota = graph.Quota()
    quota.note({"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:01:00"})
    started = time.monotonic()
    with pytest.raises(Throttled, match="resets in 60 s"):
        quota.wait("Resource Graph's resources")
    assert time.monotonic() - started < 0.05


@pytest.mark.parametrize(
    "blocks, covered",
    [
        (((("*",), ()),), True),  # Owner
        (((("*",), ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write")),), True),  # Contributor
        (((("*/read",), ()),), False),  # Reader: groups may give more
        (((("*",), ("Microsoft.Network/networkSecurityGroups/securityRules/delete",)),), False),
    ],
)
def test_the_subscriptions_rights_answer_for_its_groups_only_when_they_allow_every_checked_action(blocks, covered):
    assert covers(Permissions(blocks)) is covered
    assert not covers(UNKNOWN)


@pytest.fixture
def azure(monkeypatch, settings):
    """Resource Graph and the ARM lists played at our boundary; `refuse[kind]` is the error a kind's batch gets."""
    settings.GRAPH_BATCH_SUBSCRIPTIONS = 2
    asked: dict[str, list] = {"graph": [], "arm": [], "rights": []}
    refuse: dict[str, Exception] = {}
    lock = threading.Lock()

    def query(credential, ids, query, between_pages):
        with lock:
            asked["graph"].append((tuple(ids), query))
        if query in refuse:
            return refuse[query]
        rows = _graph_rows()
        return {
            s.lower(): {kind: [dict(r, subscriptionId=s) for r in rows[f"g:{kind}"]] for kind in fleet.TYPES_OF[query]}
            for s in ids
        }

    def fetch(credential, sub, path, version, extra, between_pages):
        key = next(k for k, p, v, e, _ in fleet.LISTS if p == path and e == extra)
        with lock:
            asked["arm"].append((sub.subscription_id, key))
        return _arm_lists()[key], None

    def rights(credential, subscription_id, group):
        with lock:
            asked["rights"].append((subscription_id, group))
        return Permissions(((("*",), ()),)) if subscription_id.endswith("0") else Permissions(((("*/read",), ()),))

    monkeypatch.setattr(fleet, "_query", query)
    monkeypatch.setattr(fleet, "_fetch", fetch)
    monkeypatch.setattr(fleet, "read_permissions", rights)
    return asked, refuse


def _subs(count: int) -> tuple[Subscription, ...]:
    return tuple(Subscription(f"00000000-0000-4000-8000-{n:012d}", f"Sub {n}", "Enabled") for n in range(count))


def _load(subs, **options) -> fleet.FleetLoad:
    load = fleet.FleetLoad(
        object(),
        subs,
        datetime.now(UTC),
        lambda f, now: (f, ["rg-web", "rg-data"]),
        covers=covers,
        graph=True,
        **options,
    )
    assert load.wait_all(10)
    return load


def test_resource_graph_reads_the_resources_by_batch_the_pricing_at_once_and_arm_only_the_policies(azure):
    asked, _ = azure
    subs = _subs(3)
    load = _load(subs)
    ids = [s.subscription_id for s in subs]
    # resources in batches of GRAPH_BATCH_SUBSCRIPTIONS (side by side), the pricing in one of up to 299
    assert sorted(asked["graph"]) == sorted(
        [(tuple(ids[:2]), "resources"), (tuple(ids[2:]), "resources"), (tuple(ids), "pricings")]
    )
    assert sorted(asked["arm"]) == sorted((s, "policies") for s in ids)
    assert all(p.source == "graph" and p.made.vms[0].power_state == "deallocated" for p in load.parts.values())


def test_groups_rights_are_read_only_where_the_subscriptions_do_not_cover_them(azure):
    asked, _ = azure
    subs = _subs(2)  # ...000 is Owner at the subscription; ...001 Reader
    load = _load(subs)
    owner, reader = (s.subscription_id for s in subs)
    assert sorted(asked["rights"]) == [(owner, ""), (reader, ""), (reader, "rg-data"), (reader, "rg-web")]
    assert load.parts[owner].rights[(owner, "rg-web")].allows("Microsoft.Compute/virtualMachines/write")


def test_a_batch_resource_graph_refuses_is_read_through_the_arm_lists_and_said(azure):
    asked, refuse = azure
    refuse["resources"] = Throttled(
        "Azure is throttling requests for Resource Graph's resources; please try again in a minute."
    )
    subs = _subs(2)
    load = _load(subs)
    assert {key for _, key in asked["arm"]} == {key for key, *_ in fleet.LISTS}
    for part in load.parts.values():
        assert part.source == "arm" and part.failure is None and "throttling" in part.note
        assert part.made == fleet._assemble(part.subscription, _arm_lists())


def test_without_the_fall_back_a_refused_required_kind_is_the_subscriptions_banner(azure, settings):
    settings.GRAPH_FALLBACK = False
    _, refuse = azure
    refuse["resources"] = AccessDenied("Azure refused Resource Graph's resources: no.")
    load = _load(_subs(1))
    part = next(iter(load.parts.values()))
    assert part.made is None and part.failure.message == "Azure refused Resource Graph's resources: no."


def test_a_subscription_written_to_lately_is_read_from_the_arm_lists(azure):
    asked, _ = azure
    subs = _subs(3)
    _load(subs, on_arm={subs[1].subscription_id.lower()})
    assert all(subs[1].subscription_id not in ids for ids, _ in asked["graph"])
    assert {key for s, key in asked["arm"] if s == subs[1].subscription_id} == {key for key, *_ in fleet.LISTS}
