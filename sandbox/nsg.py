"""What JIT does to network security groups: a deny rule per protected VM, an allow rule per granted port.

Rule names, priorities and shapes follow what Defender for Cloud writes (`SecurityCenter-JITRule…`). JIT writes
to every NSG that filters the VM's traffic, the NIC's and the subnet's ("Defender for Cloud configures the NSGs";
docs/architecture.md says what the sandbox assumes beyond Microsoft's words). The caller holds the world's lock.
"""

from __future__ import annotations

import uuid
import zlib


def subnet_of(world: dict, vm: dict) -> str:
    return world["nics"][vm["nic"].lower()]["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]


def private_ip(world: dict, vm_id: str) -> str:
    nic = world["nics"][world["vms"][vm_id.lower()]["nic"].lower()]
    return nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]


def protection(world: dict, vm: dict) -> tuple[str | None, str | None]:
    """Return (nsg id or None, why JIT cannot protect the VM or None)."""
    nic = world["nics"].get(vm["nic"].lower(), {})
    nsg = (nic.get("properties", {}).get("networkSecurityGroup") or {}).get("id")
    subnet_id = subnet_of(world, vm)
    vnet_id = subnet_id.rsplit("/subnets/", 1)[0]
    vnet = world["vnets"].get(vnet_id.lower(), {})
    for subnet in vnet.get("properties", {}).get("subnets", []):
        if subnet["id"].lower() == subnet_id.lower() and not nsg:
            nsg = (subnet["properties"].get("networkSecurityGroup") or {}).get("id")
    firewall = next(
        (
            f
            for f in world["firewalls"].values()
            if f["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
            .lower()
            .startswith(vnet_id.lower() + "/")
        ),
        None,
    )
    if firewall and firewall["properties"].get("firewallPolicy"):
        return nsg, "The virtual machine is protected by an Azure Firewall managed by Azure Firewall Manager."
    if not nsg and not firewall:
        return None, "The virtual machine has no network security group (NSG) or Azure Firewall."
    return nsg, None


def deny_rule_name(vm_id: str) -> str:
    return f"SecurityCenter-JITRule_{_signed_crc(vm_id)}_{uuid.uuid5(uuid.NAMESPACE_URL, vm_id.lower()).hex.upper()}"


def set_deny_rule(world: dict, vm_id: str, ports: list[int]) -> None:
    """Deny the VM's JIT ports (none: remove the rule), after every rule already there, as Microsoft documents:
    existing rules for the ports "take priority over the new deny all inbound traffic rules"."""
    nsgs, address = _nsgs_for(world, vm_id, writing=True)
    name = deny_rule_name(vm_id)
    for nsg in nsgs:
        rules = [r for r in nsg["properties"]["securityRules"] if r["name"] != name]
        if ports:
            others = [r["properties"]["priority"] for r in rules if not r["name"].startswith("SecurityCenter-JITRule")]
            deny_priorities = [
                r["properties"]["priority"] for r in rules if r["name"].startswith("SecurityCenter-JITRule_")
            ]
            priority = max([4096 - 1000, *others, *deny_priorities]) + 1
            rules.append(_rule(nsg, name, "Deny", min(priority, 4096), "*", address, ports))
        nsg["properties"]["securityRules"] = rules


def add_allow_rule(world: dict, vm_id: str, start: str, number: int, source: str) -> None:
    nsgs, address = _nsgs_for(world, vm_id, writing=True)
    for nsg in nsgs:
        used = {r["properties"]["priority"] for r in nsg["properties"]["securityRules"]}
        priority = next(p for p in range(100, 4096) if p not in used)
        nsg["properties"]["securityRules"].append(
            _rule(nsg, _allow_rule_name(vm_id, start, number), "Allow", priority, source, address, [number])
        )


def remove_allow_rule(world: dict, vm_id: str, start: str, number: int) -> None:
    nsgs, _ = _nsgs_for(world, vm_id)
    name = _allow_rule_name(vm_id, start, number)
    for nsg in nsgs:
        nsg["properties"]["securityRules"] = [r for r in nsg["properties"]["securityRules"] if r["name"] != name]


def redeploy(nsg: dict) -> int:
    """The NSG as an infrastructure-as-code template redeploys it: the rules it declares, JIT's gone. How many
    rules went."""
    rules = nsg["properties"]["securityRules"]
    kept = [r for r in rules if not r["name"].startswith("SecurityCenter-JITRule")]
    nsg["properties"]["securityRules"] = kept
    return len(rules) - len(kept)


def reconcile(world: dict, nsg: dict, keep: bool) -> None:
    """An NSG kept to its template from now on (or no longer): a pipeline that re-applies the template after every
    change (or an Azure Policy that denies rules the template does not declare) leaves none of JIT's writes there."""
    held = [i for i in world.get("reconciled_nsgs", []) if i != nsg["id"].lower()]
    world["reconciled_nsgs"] = [*held, nsg["id"].lower()] if keep else held


def applying(world: dict, vm: dict) -> list[dict]:
    """The NSGs that filter the VM's inbound traffic: its subnet's, then its NIC's."""
    nic = world["nics"].get(vm["nic"].lower(), {})
    subnet_id = subnet_of(world, vm)
    vnet = world["vnets"].get(subnet_id.rsplit("/subnets/", 1)[0].lower(), {})
    subnet = next(
        (s for s in vnet.get("properties", {}).get("subnets", []) if s["id"].lower() == subnet_id.lower()), {}
    )
    ids = [
        ((subnet.get("properties") or {}).get("networkSecurityGroup") or {}).get("id"),
        (nic.get("properties", {}).get("networkSecurityGroup") or {}).get("id"),
    ]
    return [world["nsgs"][i.lower()] for i in ids if i and i.lower() in world["nsgs"]]


def _nsgs_for(world: dict, vm_id: str, writing: bool = False) -> tuple[list[dict], str]:
    """The NSGs JIT writes to (`writing`: not those kept to their template, where its writes do not stay)."""
    vm = world["vms"].get(vm_id.lower())
    if vm is None:
        return [], ""
    reconciled = set(world.get("reconciled_nsgs", ())) if writing else set()
    return [n for n in applying(world, vm) if n["id"].lower() not in reconciled], private_ip(world, vm_id)


def _signed_crc(text: str) -> int:
    value = zlib.crc32(text.lower().encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def _allow_rule_name(vm_id: str, start: str, number: int) -> str:
    # The request's start time tells two grants of the same port apart.
    return f"SecurityCenter-JITRule-{_signed_crc(vm_id + start)}-{number}"


DEFAULT_RULES = (
    (
        "AllowVnetInBound",
        "Allow inbound traffic from all VMs in VNET",
        "Allow",
        "Inbound",
        65000,
        "VirtualNetwork",
        "VirtualNetwork",
    ),
    (
        "AllowAzureLoadBalancerInBound",
        "Allow inbound traffic from azure load balancer",
        "Allow",
        "Inbound",
        65001,
        "AzureLoadBalancer",
        "*",
    ),
    ("DenyAllInBound", "Deny all inbound traffic", "Deny", "Inbound", 65500, "*", "*"),
    (
        "AllowVnetOutBound",
        "Allow outbound traffic from all VMs to all VMs in VNET",
        "Allow",
        "Outbound",
        65000,
        "VirtualNetwork",
        "VirtualNetwork",
    ),
    (
        "AllowInternetOutBound",
        "Allow outbound traffic from all VMs to Internet",
        "Allow",
        "Outbound",
        65001,
        "*",
        "Internet",
    ),
    ("DenyAllOutBound", "Deny all outbound traffic", "Deny", "Outbound", 65500, "*", "*"),
)


def default_rules(nsg_id: str) -> list[dict]:
    """The six rules Azure puts in every NSG (NetworkSecurityGroupGet.json)."""
    return [
        {
            "name": name,
            "id": f"{nsg_id}/defaultSecurityRules/{name}",
            "properties": {
                "description": text,
                "protocol": "*",
                "sourcePortRange": "*",
                "destinationPortRange": "*",
                "sourceAddressPrefix": source,
                "destinationAddressPrefix": destination,
                "access": access,
                "priority": priority,
                "direction": direction,
                "provisioningState": "Succeeded",
            },
        }
        for name, text, access, direction, priority, source, destination in DEFAULT_RULES
    ]


def _rule(nsg: dict, name: str, access: str, priority: int, source: str, destination: str, ports: list[int]) -> dict:
    port_fields = (
        {"destinationPortRange": str(ports[0]), "destinationPortRanges": []}
        if len(ports) == 1
        else {"destinationPortRange": "", "destinationPortRanges": [str(p) for p in ports]}
    )
    return {
        "id": f"{nsg['id']}/securityRules/{name}",
        "name": name,
        "properties": {
            "protocol": "*",
            "sourcePortRange": "*",
            **port_fields,
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": destination,
            "access": access,
            "priority": priority,
            "direction": "Inbound",
            "provisioningState": "Succeeded",
        },
    }
