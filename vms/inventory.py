"""The fleet as rows for the three tabs, classified the way the Azure portal does, and cached per user.

The cache is per person because Azure RBAC differs per person. A write anywhere in the portal calls
`invalidate(subscription_id)`, which makes every cached inventory that includes that subscription stale,
in every process that shares Django's cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache

from jitportal import gateway
from jitportal.durations import human
from jitportal.gateway import JitPolicy, PolicyVm, PortRule, SubscriptionFleet, VmFacts

CONFIGURED, NOT_CONFIGURED, UNSUPPORTED = "configured", "not-configured", "unsupported"
REASONS = {
    "nsg": ("Missing network security group (NSG) or Azure Firewall",
            "Attach an NSG to the VM's network interface or subnet, or route it through an Azure Firewall."),
    "classic": ("Classic VM", "Migrate the VM to Azure Resource Manager; JIT protects only Resource Manager VMs."),
    "other": ("Other", "JIT is off in this subscription's security policy: enable Microsoft Defender for Servers "
                       "Plan 2 on it."),
    "firewall-manager": ("Azure Firewall managed by Azure Firewall Manager",
                         "JIT cannot add rules to a Firewall Manager policy; protect the VM with an NSG instead."),
}
RECENT = timedelta(days=7)


@dataclass(frozen=True)
class RequestLine:
    start: datetime
    requestor: str
    justification: str
    port: int
    source: str
    end: datetime
    status: str
    reason: str
    mapped_port: int | None = None


@dataclass(frozen=True)
class VmRow:
    vm_id: str
    name: str
    subscription_id: str
    subscription_name: str
    resource_group: str
    location: str
    os_type: str
    power_state: str
    tab: str
    reason: str = ""
    fix: str = ""
    policy_id: str = ""
    ports: tuple[PortRule, ...] = ()
    protection: str = ""
    private_ip: str = ""
    public_ip: str = ""
    approved_7d: int = 0
    last_access: datetime | None = None
    last_user: str = ""
    history: tuple[RequestLine, ...] = field(default=())
    admin_username: str = ""
    jit_address: str = ""  # the Azure Firewall's public IP when JIT reaches the VM through one

    @property
    def connect_address(self) -> str:
        """Where a requester connects: through the firewall, else the VM's public, else its private IP."""
        return self.jit_address or self.public_ip or self.private_ip

    @property
    def ports_text(self) -> str:
        def protocol(p: PortRule) -> str:
            return "Any" if p.protocol == "*" else p.protocol
        if len({(protocol(p), p.max_duration) for p in self.ports}) == 1:
            first = self.ports[0]
            return f"{', '.join(str(p.number) for p in self.ports)} ({protocol(first)}, ≤{human(first.max_duration)})"
        return ", ".join(f"{p.number} ({protocol(p)}, ≤{human(p.max_duration)})" for p in self.ports)

    def open_now(self, now: datetime) -> list[RequestLine]:
        return [line for line in self.history if line.status == "Initiated" and line.end > now]


@dataclass(frozen=True)
class Inventory:
    rows: tuple[VmRow, ...]
    failures: tuple[gateway.FleetFailure, ...]
    subscription_count: int
    azure_now: datetime
    fetched_at: float
    epochs: dict[str, int]

    def age_seconds(self) -> int:
        return int(time.time() - self.fetched_at)

    def azure_clock(self) -> datetime:
        """Azure's time now: its Date header when the inventory was read, moved on by the time since."""
        return self.azure_now + timedelta(seconds=time.time() - self.fetched_at)


def _epoch_key(subscription_id: str) -> str:
    return f"inventory-epoch:{subscription_id.lower()}"


# Inventories are kept in this process, unpickled: a 10,000-VM inventory takes ~0.5 s to unpickle
# from Django's cache on every page. The epochs that make them stale live in Django's (shared) cache.
_LOCAL: OrderedDict[int, Inventory] = OrderedDict()
_LOCAL_LOCK = threading.Lock()
LOCAL_PEOPLE = 64


def invalidate(subscription_id: str) -> None:
    """Make every cached inventory holding this subscription stale (after a write to it)."""
    key = _epoch_key(subscription_id)
    cache.add(key, 0, timeout=None)
    cache.incr(key)


def forget(user_pk: int | None = None) -> None:
    """Drop one person's cached inventory (Refresh), or everyone's."""
    with _LOCAL_LOCK:
        if user_pk is None:
            _LOCAL.clear()
        else:
            _LOCAL.pop(user_pk, None)


def _cached(user_pk: int) -> Inventory | None:
    with _LOCAL_LOCK:
        found = _LOCAL.get(user_pk)
    if found is None or found.age_seconds() >= settings.INVENTORY_CACHE_SECONDS:
        return None
    return found if found.epochs == _epochs(list(found.epochs)) else None


def _keep(user_pk: int, inventory: Inventory) -> None:
    with _LOCAL_LOCK:
        _LOCAL[user_pk] = inventory
        _LOCAL.move_to_end(user_pk)
        while len(_LOCAL) > LOCAL_PEOPLE:
            _LOCAL.popitem(last=False)


def get_inventory(session, user_pk: int) -> Inventory:
    cached = _cached(user_pk)
    if cached is not None:
        return cached
    fleet = gateway.load_fleet(session)
    subscription_ids = [s.subscription.subscription_id for s in fleet.subscriptions]
    inventory = Inventory(
        rows=tuple(row for sub in fleet.subscriptions for row in rows_of(sub, fleet.azure_now)),
        failures=fleet.failures, subscription_count=len(fleet.subscriptions) + len(fleet.failures),
        azure_now=fleet.azure_now, fetched_at=time.time(), epochs=_epochs(subscription_ids),
    )
    _keep(user_pk, inventory)
    return inventory


def _epochs(subscription_ids: list[str]) -> dict[str, int]:
    found = cache.get_many([_epoch_key(s) for s in subscription_ids])
    return {s: found.get(_epoch_key(s), 0) for s in subscription_ids}


def rows_of(sub: SubscriptionFleet, now: datetime) -> list[VmRow]:
    policies = {vm.vm_id.lower(): (policy, vm) for policy in sub.policies for vm in policy.vms}
    return [_row(sub, vm, policies.get(vm.vm_id.lower()), now) for vm in sub.vms]


def _row(sub: SubscriptionFleet, vm: VmFacts, configured: tuple[JitPolicy, PolicyVm] | None,
         now: datetime) -> VmRow:
    nic = sub.nics.get(vm.nic_ids[0].lower()) if vm.nic_ids else None
    nsg = (nic.nsg_id or sub.subnet_nsgs.get(nic.subnet_id.lower(), "")) if nic else ""
    vnet = nic.subnet_id.rsplit("/subnets/", 1)[0].lower() if nic else ""
    wall = next((f for f in sub.firewalls if f.vnet_id.lower() == vnet), None)
    protection = (f"NSG {nsg.rsplit('/', 1)[-1]}" if nsg else f"Azure Firewall {wall.name}" if wall else "")
    base = dict(vm_id=vm.vm_id, name=vm.name, subscription_id=vm.subscription_id,
                subscription_name=sub.subscription.display_name, resource_group=vm.resource_group,
                location=vm.location, os_type=vm.os_type, power_state=vm.power_state, protection=protection,
                admin_username=vm.admin_username,
                private_ip=nic.private_ip if nic else "",
                public_ip=sub.public_ips.get(nic.public_ip_id.lower(), "") if nic and nic.public_ip_id else "")
    unsupported = _unsupported_reason(sub, vm, nsg, wall)
    if configured is not None and not vm.classic:
        policy, entry = configured
        history = _history(policy, vm.vm_id)
        recent = [line for line in history if line.start >= now - RECENT]
        latest = history[0] if history else None
        return VmRow(**base, tab=CONFIGURED, policy_id=policy.policy_id, ports=entry.ports, jit_address=entry.public_ip,
                     approved_7d=len({line.start for line in recent}),
                     last_access=latest.start if latest else None, last_user=latest.requestor if latest else "",
                     history=tuple(history))
    if unsupported:
        reason, fix = REASONS[unsupported]
        return VmRow(**base, tab=UNSUPPORTED, reason=reason, fix=fix)
    return VmRow(**base, tab=NOT_CONFIGURED)


def _unsupported_reason(sub: SubscriptionFleet, vm: VmFacts, nsg: str, wall) -> str:
    if vm.classic:
        return "classic"
    if not sub.jit_plan_available:
        return "other"
    if wall is not None and wall.managed_by_firewall_manager:
        return "firewall-manager"
    if not nsg and wall is None:
        return "nsg"
    return ""


def _history(policy: JitPolicy, vm_id: str) -> list[RequestLine]:
    lines = [RequestLine(request.start, request.requestor, request.justification, port.number, port.source, port.end,
                         port.status, port.reason, port.mapped_port)
             for request in policy.requests for vm in request.vms if vm.vm_id.lower() == vm_id.lower()
             for port in vm.ports]
    return sorted(lines, key=lambda line: line.start, reverse=True)
