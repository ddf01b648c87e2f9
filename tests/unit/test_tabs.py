"""Which tab a VM is in, and why, as the Azure portal classifies it; the Configured tab's figures."""

from __future__ import annotations

from datetime import timedelta

from core.gateway.types import FirewallFacts
from tests.unit.builders import NOW, SUB, fleet, nic, policy, port, request, vm, vm_id
from vms.inventory import CONFIGURED, NOT_CONFIGURED, UNSUPPORTED, Selection, VmRow, rows_of

NSG = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Network/networkSecurityGroups/nsg"


def _tabs(sub) -> dict[str, tuple[str, str]]:
    return {r.name: (r.tab, r.reason) for r in rows_of(sub, NOW)}


def test_each_vm_lands_in_its_tab_with_the_azure_portal_reason():
    firewall = FirewallFacts(
        "/fw",
        "afw",
        f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Network/virtualNetworks/vnet",
        managed_by_firewall_manager=False,
    )
    sub = fleet(
        (
            vm("with-jit", nic="n1"),
            vm("with-nsg", nic="n2"),
            vm("bare", nic="n3", rg="rg-bare"),
            vm("classic", classic=True),
        ),
        nics=(nic("n1", nsg=NSG), nic("n2", nsg=NSG), nic("n3", rg="rg-bare", subnet="other")),
        policies=(policy({"with-jit": (port(22),)}),),
    )
    assert _tabs(sub) == {
        "with-jit": (CONFIGURED, ""),
        "with-nsg": (NOT_CONFIGURED, ""),
        "bare": (UNSUPPORTED, "Missing network security group (NSG) or Azure Firewall"),
        "classic": (UNSUPPORTED, "Classic VM"),
    }
    behind_firewall = fleet((vm("jump", nic="n1"),), nics=(nic("n1"),), firewalls=(firewall,))
    assert _tabs(behind_firewall) == {"jump": (NOT_CONFIGURED, "")}
    managed = fleet(
        (vm("jump", nic="n1"),),
        nics=(nic("n1"),),
        firewalls=(FirewallFacts("/fw", "afw", firewall.vnet_id, managed_by_firewall_manager=True),),
    )
    assert _tabs(managed) == {"jump": (UNSUPPORTED, "Azure Firewall managed by Azure Firewall Manager")}


def test_without_defender_plan_2_every_vm_is_unsupported_for_other():
    sub = fleet((vm("a", nic="n1"),), nics=(nic("n1", nsg=NSG),), plan=False)
    assert _tabs(sub) == {"a": (UNSUPPORTED, "Other")}


def test_configured_figures_count_requests_of_the_last_seven_days_by_azures_clock():
    history = (
        request("old@contoso.test", NOW - timedelta(days=8), {"a": (22,)}),
        request("bea@contoso.test", NOW - timedelta(days=2), {"a": (22, 3389)}),
        request("cy@contoso.test", NOW - timedelta(hours=1), {"a": (22,), "b": (22,)}, hours=3),
    )
    sub = fleet(
        (vm("a", nic="n1"),), nics=(nic("n1", nsg=NSG),), policies=(policy({"a": (port(22), port(3389))}, history),)
    )
    row = rows_of(sub, NOW)[0]
    assert (row.approved_7d, row.last_user, row.last_access) == (2, "cy@contoso.test", NOW - timedelta(hours=1))
    assert [line.port for line in row.open_now(NOW)] == [22]  # only cy's is still open
    assert row.ports_text == "22, 3389 (Any, ≤3 h)"


def test_never_used_vms_sort_last_whichever_way_last_access_is_sorted():
    rows = [
        VmRow(vm_id(name), name, SUB, "Test", "rg-web", "westeurope", "Linux", "running", CONFIGURED, last_access=when)
        for name, when in (
            ("never-a", None),
            ("old", NOW - timedelta(days=3)),
            ("never-b", None),
            ("new", NOW - timedelta(hours=1)),
        )
    ]
    selection = Selection(rows)
    names = lambda descending: [r.name for r in selection.ordered(CONFIGURED, ((("last_access", descending),),))]  # noqa: E731
    assert names(False) == ["old", "new", "never-a", "never-b"]
    assert names(True) == ["new", "old", "never-a", "never-b"]


def test_the_protected_ports_say_which_sources_a_port_is_open_to():
    row = VmRow(
        vm_id("a"),
        "a",
        SUB,
        "Test",
        "rg-web",
        "westeurope",
        "Linux",
        "running",
        CONFIGURED,
        ports=(port(22), port(3389), port(2222, hours=1, prefixes=("10.0.0.0/8", "203.0.113.7")), port(5986, hours=1)),
    )
    assert row.ports_text == "22, 3389 (Any, ≤3 h); 2222 (Any, from 10.0.0.0/8, 203.0.113.7, ≤1 h); 5986 (Any, ≤1 h)"
