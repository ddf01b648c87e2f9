"""ARM JSON → our dataclasses: the one way every answer from Azure is read. Lenient about missing
fields: Azure omits what is empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import isodate

from .ids import resource_group_of
from .types import (
    FirewallFacts,
    GrantResult,
    JitPolicy,
    JitRequest,
    NicFacts,
    PolicyVm,
    PortRule,
    RequestPort,
    RequestVm,
    SecurityGroup,
    SecurityRule,
    Subscription,
    VmFacts,
)


def _props(item: dict) -> dict:
    return item.get("properties") or {}


def parse_time(value: str) -> datetime:
    """Azure's timestamps (seven fractional digits, a Z); a time without a zone is UTC."""
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


@cache  # a fleet's policies repeat a few durations ("PT3H") over thousands of ports
def parse_duration(value: str) -> timedelta:
    """Azure's day-time durations ("PT3H", "P1D"); ValueError for years and months, which have no fixed length."""
    parsed = isodate.parse_duration(value)
    if not isinstance(parsed, timedelta):
        raise ValueError(f"'{value}' is not a day-time ISO 8601 duration such as PT3H")
    return parsed


def subscription(item: dict) -> Subscription:
    return Subscription(
        item["subscriptionId"], item.get("displayName") or item["subscriptionId"], item.get("state") or ""
    )


def vm_facts(item: dict, status: dict | None, subscription_id: str) -> VmFacts:
    props = _props(item)
    codes = [s.get("code", "") for s in (_props(status or {}).get("instanceView") or {}).get("statuses", [])]
    power = next((c.split("/", 1)[1] for c in codes if c.startswith("PowerState/")), "unknown")
    return VmFacts(
        vm_id=item["id"],
        name=item["name"],
        subscription_id=subscription_id,
        resource_group=resource_group_of(item["id"]),
        location=item.get("location", ""),
        os_type=((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType", "") or "Unknown",
        power_state=power,
        nic_ids=tuple(n["id"] for n in (props.get("networkProfile") or {}).get("networkInterfaces", [])),
        admin_username=(props.get("osProfile") or {}).get("adminUsername", ""),
    )


def classic_vm(item: dict, subscription_id: str) -> VmFacts:
    props = _props(item)
    state = (props.get("instanceView") or {}).get("powerState", "")
    os_type = ((props.get("storageProfile") or {}).get("operatingSystemDisk") or {}).get("operatingSystem", "")
    return VmFacts(
        vm_id=item["id"],
        name=item["name"],
        subscription_id=subscription_id,
        resource_group=resource_group_of(item["id"]),
        location=item.get("location", ""),
        os_type=os_type or "Unknown",
        power_state={"Started": "running", "Stopped": "stopped"}.get(state, state.lower() or "unknown"),
        nic_ids=(),
        classic=True,
    )


def graph_vm(row: dict, subscription_id: str) -> VmFacts:
    """A VM as docs/resource-graph.md's query projects it (power state `PowerState/running`, from `extended`)."""
    power = row.get("power") or ""
    return VmFacts(
        vm_id=row["id"],
        name=row["name"],
        subscription_id=subscription_id,
        resource_group=resource_group_of(row["id"]),
        location=row.get("location") or "",
        os_type=row.get("osType") or "Unknown",
        power_state=power.split("/", 1)[1] if power.startswith("PowerState/") else "unknown",
        nic_ids=tuple(n["id"] for n in row.get("nics") or () if n.get("id")),
        admin_username=row.get("admin") or "",
    )


def graph_classic_vm(row: dict, subscription_id: str) -> VmFacts:
    return classic_vm(
        {
            "id": row["id"],
            "name": row["name"],
            "location": row.get("location") or "",
            "properties": {
                "instanceView": {"powerState": row.get("classicPower") or ""},
                "storageProfile": {"operatingSystemDisk": {"operatingSystem": row.get("classicOs") or ""}},
            },
        },
        subscription_id,
    )


def nic(item: dict) -> NicFacts:
    return nic_of(
        item["id"],
        _props(item).get("ipConfigurations") or [],
        (_props(item).get("networkSecurityGroup") or {}).get("id", ""),
    )


def nic_of(nic_id: str, configs: list[dict], nsg_id: str) -> NicFacts:
    """A NIC from its IP configurations (the primary one, or the first) and its own NSG's id."""
    primary = next((c for c in configs if _props(c).get("primary")), configs[0] if configs else {})
    config = _props(primary)
    return NicFacts(
        nic_id=nic_id,
        private_ip=config.get("privateIPAddress", ""),
        public_ip_id=(config.get("publicIPAddress") or {}).get("id", ""),
        subnet_id=(config.get("subnet") or {}).get("id", ""),
        nsg_id=nsg_id or "",
        asg_ids=tuple(a["id"] for a in config.get("applicationSecurityGroups") or () if a.get("id")),
    )


def _many(props: dict, single: str, plural: str) -> tuple[str, ...]:
    """A rule field Azure writes either as one value or as a list (augmented rules); an empty list and an empty
    string both mean "not this form"."""
    values = props.get(plural) or []
    return tuple(values) if values else ((props[single],) if props.get(single) else ())


def security_rule(item: dict, default: bool = False) -> SecurityRule:
    props = _props(item)
    return SecurityRule(
        name=item.get("name", ""),
        rule_id=item.get("id", ""),
        priority=int(props.get("priority", 65500)),
        access=props.get("access", "Deny"),
        protocol=props.get("protocol", "*"),
        sources=_many(props, "sourceAddressPrefix", "sourceAddressPrefixes"),
        source_asgs=tuple(a["id"] for a in props.get("sourceApplicationSecurityGroups") or () if a.get("id")),
        destinations=_many(props, "destinationAddressPrefix", "destinationAddressPrefixes"),
        destination_asgs=tuple(a["id"] for a in props.get("destinationApplicationSecurityGroups") or () if a.get("id")),
        ports=_many(props, "destinationPortRange", "destinationPortRanges") or ("*",),
        default=default,
    )


def security_group(item: dict) -> SecurityGroup:
    props = _props(item)
    return security_group_of(
        item["id"], item.get("name", ""), props.get("securityRules"), props.get("defaultSecurityRules")
    )


def security_group_of(nsg_id: str, name: str, own: list[dict] | None, defaults: list[dict] | None) -> SecurityGroup:
    """An NSG with its inbound rules (its own and the defaults) in priority order; outbound ones are left out."""
    rules = [security_rule(r) for r in own or () if _props(r).get("direction", "Inbound") == "Inbound"]
    rules += [
        security_rule(r, default=True) for r in defaults or () if _props(r).get("direction", "Inbound") == "Inbound"
    ]
    return SecurityGroup(nsg_id=nsg_id, name=name, rules=tuple(sorted(rules, key=lambda r: r.priority)))


def firewall(item: dict) -> FirewallFacts | None:
    return firewall_of(
        item["id"],
        item.get("name", ""),
        _props(item).get("ipConfigurations") or [],
        bool(_props(item).get("firewallPolicy")),
    )


def firewall_of(firewall_id: str, name: str, configs: list[dict], managed: bool) -> FirewallFacts | None:
    """An Azure Firewall by the subnet of its first IP configuration; None when it names none."""
    subnet = ((_props(configs[0]).get("subnet") or {}).get("id", "")) if configs else ""
    if "/subnets/" not in subnet:
        return None
    return FirewallFacts(
        firewall_id=firewall_id,
        name=name,
        vnet_id=subnet.rsplit("/subnets/", 1)[0],
        managed_by_firewall_manager=managed,
    )


def _port_rule(port: dict) -> PortRule:
    prefixes = port.get("allowedSourceAddressPrefixes") or [port.get("allowedSourceAddressPrefix") or "*"]
    return PortRule(
        number=int(port["number"]),
        protocol=port.get("protocol", "*"),
        allowed_prefixes=tuple(prefixes),
        max_duration=parse_duration(port.get("maxRequestAccessDuration", "PT3H")),
    )


def _request(item: dict) -> JitRequest:
    return JitRequest(
        start=parse_time(item["startTimeUtc"]),
        requestor=item.get("requestor", ""),
        justification=item.get("justification") or "",
        vms=tuple(
            RequestVm(
                vm["id"],
                tuple(
                    RequestPort(
                        number=int(p["number"]),
                        source=p.get("allowedSourceAddressPrefix", ""),
                        end=parse_time(p["endTimeUtc"]),
                        status=p.get("status", ""),
                        reason=p.get("statusReason", ""),
                        mapped_port=p.get("mappedPort"),
                    )
                    for p in vm.get("ports", [])
                ),
            )
            for vm in item.get("virtualMachines", [])
        ),
    )


def policy(item: dict, subscription_id: str) -> JitPolicy:
    props = _props(item)
    return JitPolicy(
        policy_id=item["id"],
        name=item.get("name", "default"),
        subscription_id=subscription_id,
        resource_group=resource_group_of(item["id"]),
        location=item.get("location", ""),
        vms=tuple(
            PolicyVm(vm["id"], tuple(_port_rule(p) for p in vm.get("ports", [])), vm.get("publicIpAddress") or "")
            for vm in props.get("virtualMachines", [])
        ),
        requests=tuple(_request(r) for r in props.get("requests", [])),
    )


def grant(answer: dict, correlation_id: str) -> GrantResult:
    """An initiate answer: per VM, the ports Azure opened and until when."""
    return GrantResult(
        opened={
            vm["id"].lower(): tuple((int(p["number"]), parse_time(p["endTimeUtc"])) for p in vm.get("ports", []))
            for vm in answer.get("virtualMachines", [])
        },
        correlation_id=correlation_id,
        mapped={
            vm["id"].lower(): {
                int(p["number"]): int(p["mappedPort"]) for p in vm.get("ports", []) if p.get("mappedPort")
            }
            for vm in answer.get("virtualMachines", [])
        },
    )
