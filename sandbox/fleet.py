"""The demo fleet, and generated fleets of any size for benchmarks.

A fleet is plain data in ARM's own JSON shapes (plus a small internal record per VM), so that the
ARM handlers can serve it as it is. What happened to it (requests, Activity Log) is `seed`'s part.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from . import demo, nsg

_NS = uuid.UUID("5a4db0c5-0000-4000-8000-00000000f1ee")
JIT_TYPE = "Microsoft.Security/locations/jitNetworkAccessPolicies"


def stable_uuid(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


SUBSCRIPTIONS = {
    "prod": ("Contoso Production", "P2"),
    "dev": ("Contoso Development", "P2"),
    "shared": ("Contoso Shared Services", "P2"),
    "legacy": ("Contoso Legacy Apps", "P1"),
}


@dataclass
class GroupSpec:
    """One resource group in one region, and how its network protects its VMs."""

    sub: str
    rg: str
    location: str
    protection: str  # "subnet-nsg", "nic-nsg", "none", "firewall", "firewall-manager", "classic"
    vms: list[tuple[str, str, str]]  # (name, os, power)
    configured: tuple[str, ...] = ()
    nsg_groups: tuple[tuple[str, str], ...] = ()  # (VM, resource group of its NIC's NSG) where not the VM's own
    asg: str = ""  # an application security group every NIC of the group is in


DEMO_GROUPS = [
    GroupSpec(
        "prod",
        "rg-web",
        "westeurope",
        "subnet-nsg",
        [
            (f"web-{i:02d}", "Linux", p)
            for i, p in enumerate(["running", "running", "running", "stopped", "running", "deallocated"], 1)
        ],
        configured=("web-01", "web-02", "web-03", "web-04"),
        asg="asg-web",
    ),
    GroupSpec(
        "prod",
        "rg-sql",
        "northeurope",
        "nic-nsg",
        [(f"sql-{i:02d}", "Windows", p) for i, p in enumerate(["running", "running", "stopped", "running"], 1)],
        configured=("sql-01", "sql-02"),
    ),
    GroupSpec(
        "prod",
        "rg-legacy",
        "westeurope",
        "none",
        [("legacy-01", "Windows", "running"), ("legacy-02", "Linux", "stopped")],
    ),
    GroupSpec("prod", "rg-classic", "eastus", "classic", [("classic-01", "Windows", "running")]),
    GroupSpec(
        "dev",
        "rg-dev",
        "eastus",
        "nic-nsg",
        [
            (f"dev-{i:02d}", os, p)
            for i, (os, p) in enumerate(
                [
                    ("Linux", "running"),
                    ("Windows", "running"),
                    ("Linux", "running"),
                    ("Linux", "stopped"),
                    ("Windows", "deallocated"),
                    ("Linux", "running"),
                    ("Linux", "running"),
                    ("Windows", "running"),
                ],
                1,
            )
        ],
        configured=("dev-01", "dev-02", "dev-03"),
    ),
    GroupSpec(
        "dev",
        "rg-build",
        "westus2",
        "subnet-nsg",
        [
            (f"build-{i:02d}", "Linux", p)
            for i, p in enumerate(["running", "running", "deallocated", "running", "stopped"], 1)
        ],
    ),
    GroupSpec(
        "dev",
        "rg-fwmgr",
        "westus2",
        "firewall-manager",
        [("fw-01", "Linux", "running"), ("fw-02", "Windows", "running")],
    ),
    GroupSpec("dev", "rg-jump", "westus2", "firewall", [("jump-01", "Linux", "running")]),
    GroupSpec(
        "shared",
        "rg-shared",
        "northeurope",
        "nic-nsg",
        [("ad-01", "Windows", "running"), ("ad-02", "Windows", "running"), ("ad-03", "Windows", "stopped")],
        configured=("ad-01",),
        # The network team's resource group: someone who reads only rg-shared cannot read this NSG.
        nsg_groups=(("ad-03", "rg-network"),),
    ),
    GroupSpec(
        "shared",
        "rg-monitor",
        "eastus",
        "subnet-nsg",
        [
            (f"mon-{i:02d}", "Linux", p)
            for i, p in enumerate(["running", "running", "running", "deallocated", "running"], 1)
        ]
        # 50 characters: with the policy name "default" it exceeds Azure's limit of 56
        + [("mon-telemetry-ingest-worker-westeurope-blue-000001", "Linux", "running")],
    ),
    GroupSpec(
        "legacy",
        "rg-old",
        "westeurope",
        "nic-nsg",
        [("old-01", "Windows", "running"), ("old-02", "Linux", "running"), ("old-03", "Linux", "stopped")],
    ),
]


def empty_world() -> dict:
    return {
        "subscriptions": [],
        "vms": {},
        "classic_vms": {},
        "nics": {},
        "nsgs": {},
        "vnets": {},
        "pips": {},
        "firewalls": {},
        "asgs": {},
        "pricings": {},
        "policies": {},
        "policy_written_at": {},
        "activity": [],
        "role_assignments": [],
        "refresh_tokens": {},
        "clock_offset_seconds": 0.0,
    }


class _Builder:
    def __init__(self, world: dict) -> None:
        self.world = world
        self.sub_ids: dict[str, str] = {}
        self.vnet_count = 0
        self.ip_count = 0

    def subscription(self, key: str, name: str, plan: str) -> str:
        sub_id = stable_uuid("subscription", key)
        self.sub_ids[key] = sub_id
        self.world["subscriptions"].append(
            {
                "id": f"/subscriptions/{sub_id}",
                "subscriptionId": sub_id,
                "tenantId": demo.TENANT_ID,
                "displayName": name,
                "state": "Enabled",
                "subscriptionPolicies": {
                    "locationPlacementId": "Public_2014-09-01",
                    "quotaId": "PayAsYouGo_2014-09-01",
                    "spendingLimit": "Off",
                },
                "authorizationSource": "RoleBased",
            }
        )
        self.world["pricings"][sub_id.lower()] = {
            "id": f"/subscriptions/{sub_id}/providers/Microsoft.Security/pricings/VirtualMachines",
            "name": "VirtualMachines",
            "type": "Microsoft.Security/pricings",
            "properties": {
                "pricingTier": "Standard",
                "subPlan": plan,
                "freeTrialRemainingTime": "PT0S",
                "enablementTime": "2024-01-01T00:00:00Z",
            },
        }
        return sub_id

    def group(self, spec: GroupSpec, sub_id: str) -> list[str]:
        base = f"/subscriptions/{sub_id}/resourceGroups/{spec.rg}"
        if spec.protection == "classic":
            for name, os_type, power in spec.vms:
                self._classic_vm(base, spec.location, name, os_type, power)
            return []
        self.vnet_count += 1
        octet = self.vnet_count % 250
        vnet_id = f"{base}/providers/Microsoft.Network/virtualNetworks/vnet-{spec.rg}"
        subnet_id = f"{vnet_id}/subnets/default"
        subnet: dict = {
            "id": subnet_id,
            "name": "default",
            "properties": {"addressPrefix": f"10.{octet}.1.0/24", "provisioningState": "Succeeded"},
        }
        subnets = [subnet]
        if spec.protection == "subnet-nsg":
            nsg_id = self._nsg(base, spec.location, f"nsg-{spec.rg}-default")
            subnet["properties"]["networkSecurityGroup"] = {"id": nsg_id}
            self.world["nsgs"][nsg_id.lower()]["properties"]["subnets"] = [{"id": subnet_id}]
        if spec.protection in ("firewall", "firewall-manager"):
            fw_subnet = f"{vnet_id}/subnets/AzureFirewallSubnet"
            subnets.append(
                {
                    "id": fw_subnet,
                    "name": "AzureFirewallSubnet",
                    "properties": {"addressPrefix": f"10.{octet}.0.0/26", "provisioningState": "Succeeded"},
                }
            )
            self._firewall(base, spec, fw_subnet, octet)
        self.world["vnets"][vnet_id.lower()] = {
            "id": vnet_id,
            "name": f"vnet-{spec.rg}",
            "type": "Microsoft.Network/virtualNetworks",
            "location": spec.location,
            "properties": {
                "addressSpace": {"addressPrefixes": [f"10.{octet}.0.0/16"]},
                "subnets": subnets,
                "provisioningState": "Succeeded",
            },
        }
        return [self._vm(base, spec, subnet_id, octet, i, *vm)[0] for i, vm in enumerate(spec.vms)]

    def _nsg(self, base: str, location: str, name: str) -> str:
        nsg_id = f"{base}/providers/Microsoft.Network/networkSecurityGroups/{name}"
        self.world["nsgs"][nsg_id.lower()] = {
            "id": nsg_id,
            "name": name,
            "type": "Microsoft.Network/networkSecurityGroups",
            "location": location,
            "properties": {
                "securityRules": [
                    {
                        "id": f"{nsg_id}/securityRules/allow-https",
                        "name": "allow-https",
                        "properties": {
                            "protocol": "Tcp",
                            "sourcePortRange": "*",
                            "destinationPortRange": "443",
                            "sourceAddressPrefix": "*",
                            "destinationAddressPrefix": "*",
                            "access": "Allow",
                            "priority": 300,
                            "direction": "Inbound",
                            "provisioningState": "Succeeded",
                        },
                    }
                ],
                "defaultSecurityRules": nsg.default_rules(nsg_id),
                "networkInterfaces": [],
                "subnets": [],
                "provisioningState": "Succeeded",
            },
        }
        return nsg_id

    def _asg(self, base: str, location: str, name: str) -> str:
        asg_id = f"{base}/providers/Microsoft.Network/applicationSecurityGroups/{name}"
        self.world["asgs"].setdefault(
            asg_id.lower(),
            {
                "id": asg_id,
                "name": name,
                "type": "Microsoft.Network/applicationSecurityGroups",
                "location": location,
                "properties": {"resourceGuid": stable_uuid("asg", asg_id), "provisioningState": "Succeeded"},
            },
        )
        return asg_id

    def _firewall(self, base: str, spec: GroupSpec, fw_subnet: str, octet: int) -> None:
        fw_id = f"{base}/providers/Microsoft.Network/azureFirewalls/afw-{spec.rg}"
        # Its public IP is where JIT's DNAT rules listen: what a requester connects to.
        pip_id = f"{base}/providers/Microsoft.Network/publicIPAddresses/afw-{spec.rg}-pip"
        self.world["pips"][pip_id.lower()] = {
            "id": pip_id,
            "name": f"afw-{spec.rg}-pip",
            "type": "Microsoft.Network/publicIPAddresses",
            "location": spec.location,
            "sku": {"name": "Standard"},
            "properties": {
                "ipAddress": f"52.{160 + octet // 250}.{octet % 250}.10",
                "publicIPAllocationMethod": "Static",
                "publicIPAddressVersion": "IPv4",
                "provisioningState": "Succeeded",
                "ipConfiguration": {"id": f"{fw_id}/azureFirewallIpConfigurations/afw-ipconfig"},
            },
        }
        properties: dict = {
            "sku": {"name": "AZFW_VNet", "tier": "Standard"},
            "ipConfigurations": [
                {
                    "name": "afw-ipconfig",
                    "id": f"{fw_id}/azureFirewallIpConfigurations/afw-ipconfig",
                    "properties": {
                        "subnet": {"id": fw_subnet},
                        "privateIPAddress": f"10.{octet}.0.4",
                        "publicIPAddress": {"id": pip_id},
                    },
                }
            ],
            "natRuleCollections": [],
            "networkRuleCollections": [],
            "applicationRuleCollections": [],
            "provisioningState": "Succeeded",
        }
        if spec.protection == "firewall-manager":
            properties["firewallPolicy"] = {"id": f"{base}/providers/Microsoft.Network/firewallPolicies/afwp-{spec.rg}"}
        self.world["firewalls"][fw_id.lower()] = {
            "id": fw_id,
            "name": f"afw-{spec.rg}",
            "type": "Microsoft.Network/azureFirewalls",
            "location": spec.location,
            "properties": properties,
        }

    def _vm(
        self, base: str, spec: GroupSpec, subnet_id: str, octet: int, index: int, name: str, os_type: str, power: str
    ) -> tuple[str, str]:
        vm_id = f"{base}/providers/Microsoft.Compute/virtualMachines/{name}"
        nic_id = f"{base}/providers/Microsoft.Network/networkInterfaces/{name}-nic"
        private_ip = f"10.{octet}.1.{4 + index % 250}"
        ip_config: dict = {
            "privateIPAddress": private_ip,
            "privateIPAllocationMethod": "Dynamic",
            "subnet": {"id": subnet_id},
            "primary": True,
            "provisioningState": "Succeeded",
        }
        if index % 3 != 2:  # most VMs have a public IP; every third one is private only
            self.ip_count += 1
            pip_id = f"{base}/providers/Microsoft.Network/publicIPAddresses/{name}-ip"
            ip_config["publicIPAddress"] = {"id": pip_id}
            n = self.ip_count
            self.world["pips"][pip_id.lower()] = {
                "id": pip_id,
                "name": f"{name}-ip",
                "type": "Microsoft.Network/publicIPAddresses",
                "location": spec.location,
                "sku": {"name": "Standard"},
                "properties": {
                    "ipAddress": f"20.{50 + n // 62500 % 200}.{n // 250 % 250}.{1 + n % 250}",
                    "publicIPAllocationMethod": "Static",
                    "publicIPAddressVersion": "IPv4",
                    "ipConfiguration": {"id": f"{nic_id}/ipConfigurations/ipconfig1"},
                    "provisioningState": "Succeeded",
                },
            }
        nic: dict = {
            "id": nic_id,
            "name": f"{name}-nic",
            "type": "Microsoft.Network/networkInterfaces",
            "location": spec.location,
            "properties": {
                "ipConfigurations": [
                    {"id": f"{nic_id}/ipConfigurations/ipconfig1", "name": "ipconfig1", "properties": ip_config}
                ],
                "virtualMachine": {"id": vm_id},
                "primary": True,
                "provisioningState": "Succeeded",
            },
        }
        if spec.asg:
            ip_config["applicationSecurityGroups"] = [{"id": self._asg(base, spec.location, spec.asg)}]
        if spec.protection == "nic-nsg":
            nsg_base = base.rsplit("/", 1)[0] + "/" + dict(spec.nsg_groups).get(name, spec.rg)
            nsg_id = self._nsg(nsg_base, spec.location, f"{name}-nsg")
            nic["properties"]["networkSecurityGroup"] = {"id": nsg_id}
            self.world["nsgs"][nsg_id.lower()]["properties"]["networkInterfaces"] = [{"id": nic_id}]
        self.world["nics"][nic_id.lower()] = nic
        self.world["vms"][vm_id.lower()] = {
            "id": vm_id,
            "name": name,
            "location": spec.location,
            "os": os_type,
            "power": power,
            "vmId": stable_uuid("vm", vm_id),
            "nic": nic_id,
            "size": "Standard_D2s_v5" if os_type == "Windows" else "Standard_B2s",
        }
        return vm_id, nic_id

    def _classic_vm(self, base: str, location: str, name: str, os_type: str, power: str) -> None:
        vm_id = f"{base}/providers/Microsoft.ClassicCompute/virtualMachines/{name}"
        self.world["classic_vms"][vm_id.lower()] = {
            "id": vm_id,
            "name": name,
            "type": "Microsoft.ClassicCompute/virtualMachines",
            "location": location,
            "properties": {
                "instanceView": {
                    "status": "ReadyRole",
                    "powerState": "Started" if power == "running" else "Stopped",
                    "privateIpAddress": "10.200.0.4",
                },
                "hardwareProfile": {"size": "Small", "platformGuestAgent": True},
                "storageProfile": {"operatingSystemDisk": {"operatingSystem": os_type}},
                "provisioningState": "Succeeded",
            },
        }


def protect(world: dict, vms: list[dict]) -> None:
    """JIT's deny rules for VMs put in a policy: in Azure every configured VM has them (a policy PUT writes them)."""
    for vm in vms:
        nsg.set_deny_rule(world, vm["id"], [p["number"] for p in vm["ports"]])


def default_ports() -> list[dict]:
    return [
        {"number": n, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}
        for n in (22, 3389, 5985, 5986)
    ]


def policy_id(sub_id: str, rg: str, location: str, name: str = "default") -> str:
    return f"/subscriptions/{sub_id}/resourceGroups/{rg}/providers/Microsoft.Security/locations/{location}/jitNetworkAccessPolicies/{name}"


def new_policy(pid: str, location: str, vms: list[dict], requests: list[dict] | None = None) -> dict:
    return {
        "kind": "Basic",
        "id": pid,
        "name": pid.rsplit("/", 1)[1],
        "type": JIT_TYPE,
        "location": location,
        "properties": {"virtualMachines": vms, "requests": requests or [], "provisioningState": "Succeeded"},
    }


def build_demo(world: dict) -> None:
    """Fill an empty world with the demo subscriptions, network, VMs, role assignments and policies."""
    builder = _Builder(world)
    for key, (name, plan) in SUBSCRIPTIONS.items():
        builder.subscription(key, name, plan)
    for spec in DEMO_GROUPS:
        sub_id = builder.sub_ids[spec.sub]
        builder.group(spec, sub_id)
        if spec.configured:
            pid = policy_id(sub_id, spec.rg, spec.location)
            base = f"/subscriptions/{sub_id}/resourceGroups/{spec.rg}/providers/Microsoft.Compute/virtualMachines"
            vms = [{"id": f"{base}/{vm_name}", "ports": default_ports()} for vm_name in spec.configured]
            world["policies"][pid.lower()] = new_policy(pid, spec.location, vms)
            protect(world, vms)
    for principal in (*demo.PEOPLE, *demo.APPS, *demo.GROUPS):
        for role, scope in principal.assignments:
            sub_key, _, rest = scope.removeprefix("{sub:").partition("}")
            world["role_assignments"].append(
                {
                    "principalId": principal.object_id,
                    "role": role,
                    "scope": f"/subscriptions/{builder.sub_ids[sub_key]}{rest}",
                }
            )


def generate(world: dict, vm_count: int, subscription_count: int, seed_value: int = 7) -> None:
    """Replace the fleet with `vm_count` VMs spread over `subscription_count` subscriptions.

    Every demo person keeps the same kind of rights over the new subscriptions; half the VMs sit in
    JIT policies. Meant for benchmarks and cost tests, so it favours speed over variety.
    """
    rng = random.Random(seed_value)
    fresh = empty_world()
    fresh["clock_offset_seconds"] = world["clock_offset_seconds"]
    builder = _Builder(fresh)
    regions = ("westeurope", "northeurope", "eastus", "westus2")
    per_sub = max(1, vm_count // subscription_count)
    made = 0
    for s in range(subscription_count):
        sub_id = builder.subscription(f"gen-{s}", f"Generated {s:03d}", "P2")
        for principal in (*demo.PEOPLE, *demo.APPS):
            for role, _ in principal.assignments[:2]:
                fresh["role_assignments"].append(
                    {"principalId": principal.object_id, "role": role, "scope": f"/subscriptions/{sub_id}"}
                )
        count = per_sub if s < subscription_count - 1 else vm_count - made
        group_size = 50
        for g in range(0, count, group_size):
            location = regions[(g // group_size) % len(regions)]
            names = [
                (
                    f"vm-{s:03d}-{i:05d}",
                    rng.choice(("Linux", "Windows")),
                    rng.choice(("running", "running", "stopped", "deallocated")),
                )
                for i in range(g, min(count, g + group_size))
            ]
            spec = GroupSpec(f"gen-{s}", f"rg-{g // group_size:04d}", location, "subnet-nsg", names)
            vm_ids = builder.group(spec, sub_id)
            configured = vm_ids[: len(vm_ids) // 2]
            if configured:
                pid = policy_id(sub_id, spec.rg, location)
                vms = [{"id": v, "ports": default_ports()} for v in configured]
                fresh["policies"][pid.lower()] = new_policy(pid, location, vms)
                protect(fresh, vms)
        made += count
    world.clear()
    world.update(fresh)
