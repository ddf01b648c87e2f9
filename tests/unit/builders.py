"""Small builders of the gateway's values, for unit tests that need no sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.gateway import JitPolicy, JitRequest, PolicyVm, PortRule, Subscription, SubscriptionFleet, VmFacts
from core.gateway.types import FirewallFacts, NicFacts, RequestPort, RequestVm

SUB = "11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def vm_id(name: str, rg: str = "rg-web") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


def policy_id(rg: str = "rg-web", location: str = "westeurope", name: str = "default") -> str:
    return (
        f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Security/locations/{location}/"
        f"jitNetworkAccessPolicies/{name}"
    )


def port(number: int, hours: float = 3, prefixes: tuple[str, ...] = ("*",)) -> PortRule:
    return PortRule(number, "*", prefixes, timedelta(hours=hours))


def vm(name: str, *, rg: str = "rg-web", nic: str = "", classic: bool = False) -> VmFacts:
    return VmFacts(
        vm_id(name, rg),
        name,
        SUB,
        rg,
        "westeurope",
        "Linux",
        "running",
        (f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/networkInterfaces/{nic}",)
        if nic
        else (),
        classic=classic,
    )


def nic(name: str, *, rg: str = "rg-web", nsg: str = "", subnet: str = "default") -> NicFacts:
    return NicFacts(
        f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/networkInterfaces/{name}",
        "10.0.0.4",
        "",
        f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/{subnet}",
        nsg,
    )


def request(
    requestor: str,
    start: datetime,
    vms: dict[str, tuple[int, ...]],
    *,
    source: str = "203.0.113.7",
    justification: str = "",
    hours: float = 1,
    status: str = "Initiated",
) -> JitRequest:
    return JitRequest(
        start,
        requestor,
        justification,
        tuple(
            RequestVm(
                vm_id(name),
                tuple(RequestPort(n, source, start + timedelta(hours=hours), status, "UserRequested") for n in numbers),
            )
            for name, numbers in vms.items()
        ),
    )


def policy(vms: dict[str, tuple[PortRule, ...]], requests: tuple[JitRequest, ...] = (), **where) -> JitPolicy:
    return JitPolicy(
        policy_id(**where),
        where.get("name", "default"),
        SUB,
        where.get("rg", "rg-web"),
        where.get("location", "westeurope"),
        tuple(PolicyVm(vm_id(name, where.get("rg", "rg-web")), ports) for name, ports in vms.items()),
        requests,
    )


def fleet(
    vms: tuple[VmFacts, ...],
    nics: tuple[NicFacts, ...] = (),
    policies: tuple[JitPolicy, ...] = (),
    firewalls: tuple[FirewallFacts, ...] = (),
    plan: bool = True,
) -> SubscriptionFleet:
    return SubscriptionFleet(
        Subscription(SUB, "Contoso Test", "Enabled"),
        vms,
        {n.nic_id.lower(): n for n in nics},
        {},
        {},
        firewalls,
        plan,
        policies,
    )
