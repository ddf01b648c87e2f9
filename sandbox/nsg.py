"""What JIT does to network security groups: a deny rule per protected VM, an allow rule per granted port.

Rule names, priorities and shapes follow what Defender for Cloud writes (`SecurityCenter-JITRule…`).
The caller holds the world's lock.
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
    firewall = next((f for f in world["firewalls"].values()
                     if f["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"].lower()
                     .startswith(vnet_id.lower() + "/")), None)
    if firewall and firewall["properties"].get("firewallPolicy"):
        return nsg, "The virtual machine is protected by an Azure Firewall managed by Azure Firewall Manager."
    if not nsg and not firewall:
        return None, "The virtual machine has no network security group (NSG) or Azure Firewall."
    return nsg, None


def set_deny_rule(world: dict, vm_id: str, ports: list[int]) -> None:
    """Deny the VM's JIT ports (none: remove the rule)."""
    nsg, private_ip = _nsg_for(world, vm_id)
    if nsg is None:
        return
    name = f"SecurityCenter-JITRule_{_signed_crc(vm_id)}_{uuid.uuid5(uuid.NAMESPACE_URL, vm_id.lower()).hex.upper()}"
    rules = [r for r in nsg["properties"]["securityRules"] if r["name"] != name]
    if ports:
        others = [r["properties"]["priority"] for r in rules if not r["name"].startswith("SecurityCenter-JITRule")]
        deny_priorities = [r["properties"]["priority"] for r in rules if r["name"].startswith("SecurityCenter-JITRule_")]
        priority = max([4096 - 1000, *others, *deny_priorities]) + 1
        rules.append(_rule(nsg, name, "Deny", min(priority, 4096), "*", private_ip, ports))
    nsg["properties"]["securityRules"] = rules


def add_allow_rule(world: dict, vm_id: str, start: str, number: int, source: str) -> None:
    nsg, private_ip = _nsg_for(world, vm_id)
    if nsg is None:
        return
    used = {r["properties"]["priority"] for r in nsg["properties"]["securityRules"]}
    priority = next(p for p in range(100, 4096) if p not in used)
    nsg["properties"]["securityRules"].append(
        _rule(nsg, _allow_rule_name(vm_id, start, number), "Allow", priority, source, private_ip, [number]))


def remove_allow_rule(world: dict, vm_id: str, start: str, number: int) -> None:
    nsg, _ = _nsg_for(world, vm_id)
    if nsg is not None:
        name = _allow_rule_name(vm_id, start, number)
        nsg["properties"]["securityRules"] = [r for r in nsg["properties"]["securityRules"] if r["name"] != name]


def _nsg_for(world: dict, vm_id: str) -> tuple[dict | None, str]:
    vm = world["vms"].get(vm_id.lower())
    if vm is None:
        return None, ""
    nsg_id, _ = protection(world, vm)
    return (world["nsgs"].get(nsg_id.lower()) if nsg_id else None), private_ip(world, vm_id)


def _signed_crc(text: str) -> int:
    value = zlib.crc32(text.lower().encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def _allow_rule_name(vm_id: str, start: str, number: int) -> str:
    # The request's start time tells two grants of the same port apart.
    return f"SecurityCenter-JITRule-{_signed_crc(vm_id + start)}-{number}"


def _rule(nsg: dict, name: str, access: str, priority: int, source: str, destination: str,
          ports: list[int]) -> dict:
    port_fields = ({"destinationPortRange": str(ports[0]), "destinationPortRanges": []} if len(ports) == 1 else
                   {"destinationPortRange": "", "destinationPortRanges": [str(p) for p in ports]})
    return {"id": f"{nsg['id']}/securityRules/{name}", "name": name,
            "properties": {"protocol": "*", "sourcePortRange": "*", **port_fields, "sourceAddressPrefix": source,
                           "destinationAddressPrefix": destination, "access": access, "priority": priority,
                           "direction": "Inbound", "provisioningState": "Succeeded"}}
