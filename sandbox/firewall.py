"""What JIT does to an Azure Firewall (classic rules) in front of a VM with no NSG: each granted port
gets a port of the firewall's public IP (`mappedPort`) and a DNAT rule from it to the VM.

The caller holds the world's lock.
"""

from __future__ import annotations

import zlib

from . import nsg

COLLECTION = "SecurityCenter-JIT"
FIRST_MAPPED_PORT = 50000


def firewall_for(world: dict, vm_id: str) -> dict | None:
    """The classic-rules firewall JIT works through for this VM: one in its VNet, when no NSG protects it."""
    vm = world["vms"].get(vm_id.lower())
    if vm is None or nsg.protection(world, vm) != (None, None):
        return None
    vnet_id = nsg.subnet_of(world, vm).rsplit("/subnets/", 1)[0].lower()
    return next(
        (
            f
            for f in world["firewalls"].values()
            if not f["properties"].get("firewallPolicy")
            and f["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"].lower().startswith(vnet_id + "/")
        ),
        None,
    )


def public_ip(world: dict, firewall: dict) -> str:
    pip_id = (firewall["properties"]["ipConfigurations"][0]["properties"].get("publicIPAddress") or {}).get("id", "")
    return world["pips"].get(pip_id.lower(), {}).get("properties", {}).get("ipAddress", "")


def add_nat_rule(world: dict, vm_id: str, start: str, port: dict) -> None:
    """Map the granted `port` through the VM's firewall (if it has one); sets port["mappedPort"]."""
    firewall = firewall_for(world, vm_id)
    if firewall is None:
        return
    rules = _collection(firewall)["properties"]["rules"]
    used = {int(p) for r in rules for p in r["destinationPorts"]}
    mapped = next(p for p in range(FIRST_MAPPED_PORT, 65536) if p not in used)
    port["mappedPort"] = mapped
    rules.append(
        {
            "name": _rule_name(vm_id, start, port["number"]),
            "protocols": ["TCP"],
            "sourceAddresses": [port["allowedSourceAddressPrefix"]],
            "destinationAddresses": [public_ip(world, firewall)],
            "destinationPorts": [str(mapped)],
            "translatedAddress": nsg.private_ip(world, vm_id),
            "translatedPort": str(port["number"]),
        }
    )


def remove_nat_rule(world: dict, vm_id: str, start: str, number: int) -> None:
    firewall = firewall_for(world, vm_id)
    if firewall is not None:
        collection = _collection(firewall)
        name = _rule_name(vm_id, start, number)
        collection["properties"]["rules"] = [r for r in collection["properties"]["rules"] if r["name"] != name]


def _collection(firewall: dict) -> dict:
    collections = firewall["properties"].setdefault("natRuleCollections", [])
    found = next((c for c in collections if c["name"] == COLLECTION), None)
    if found is None:
        found = {
            "name": COLLECTION,
            "id": f"{firewall['id']}/natRuleCollections/{COLLECTION}",
            "properties": {"priority": 100, "action": {"type": "Dnat"}, "rules": []},
        }
        collections.append(found)
    return found


def _rule_name(vm_id: str, start: str, number: int) -> str:
    return f"SecurityCenter-JITRule-{zlib.crc32((vm_id.lower() + start).encode())}-{number}"
