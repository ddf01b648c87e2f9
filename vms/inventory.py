"""The fleet as rows for the three tabs, classified the way the Azure portal does, and cached per user.

The cache is per person because Azure RBAC differs per person. A write anywhere in the portal calls
`invalidate(subscription_id)`, which makes every cached inventory that includes that subscription stale,
in every process that shares Django's cache.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter

from django.conf import settings
from django.core.cache import cache

from accounts.models import User
from accounts.roles import ADMIN
from core import gateway, justifications
from core.durations import human
from core.gateway import (
    STILL_LOADING,
    UNKNOWN,
    FleetFailure,
    FleetLoad,
    JitPolicy,
    Permissions,
    PolicyVm,
    PortRule,
    SubscriptionFleet,
    VmFacts,
)

from .azure_actions import CHECKED
from .exposures import Seen, observe
from .models import SeenScope
from .seen import scope_key
from .verdicts import RANK, FleetJudge, VmHealth

CONFIGURED, NOT_CONFIGURED, UNSUPPORTED = "configured", "not-configured", "unsupported"
TAB_KEYS = (CONFIGURED, NOT_CONFIGURED, UNSUPPORTED)
REASONS = {
    "nsg": (
        "Missing network security group (NSG) or Azure Firewall",
        "Attach an NSG to the VM's network interface or subnet, or route it through an Azure Firewall.",
    ),
    "classic": ("Classic VM", "Migrate the VM to Azure Resource Manager; JIT protects only Resource Manager VMs."),
    "other": (
        "Other",
        "JIT is off in this subscription's security policy: enable Microsoft Defender for Servers Plan 2 on it.",
    ),
    "firewall-manager": (
        "Azure Firewall managed by Azure Firewall Manager",
        "JIT cannot add rules to a Firewall Manager policy; protect the VM with an NSG instead.",
    ),
}
RECENT = timedelta(days=7)


@dataclass(frozen=True, slots=True)
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

    @classmethod
    def of(cls, request, port) -> RequestLine:
        """One port of one of a policy's requests, as Azure lists it (the gateway's JitRequest and its port)."""
        return cls(
            request.start,
            request.requestor,
            request.justification,
            port.number,
            port.source,
            port.end,
            port.status,
            port.reason,
            port.mapped_port,
        )


@dataclass(frozen=True, slots=True)  # slots: a 10,000-VM inventory is 10,000 of these
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
    health: VmHealth | None = None  # whether JIT really protects it (Configured and Not configured only)

    @property
    def health_state(self) -> str:
        return self.health.state if self.health else ""

    @property
    def health_rank(self) -> int:
        """Worst first when sorted: the order of verdicts.STATES; no health last."""
        return RANK.get(self.health_state, len(RANK))

    @property
    def connect_address(self) -> str:
        """Where a requester connects: through the firewall, else the VM's public, else its private IP."""
        return self.jit_address or self.public_ip or self.private_ip

    @property
    def ports_text(self) -> str:
        """ "22, 3389 (Any, ≤3 h); 2222 (TCP, from 10.0.0.0/8, 203.0.113.7, ≤1 h)": ports with the same terms together,
        a port open only to listed sources naming them."""

        def terms(p: PortRule) -> str:
            sources = "" if p.allowed_prefixes == ("*",) else f", from {', '.join(p.allowed_prefixes)}"
            return f"{'Any' if p.protocol == '*' else p.protocol}{sources}, ≤{human(p.max_duration)}"

        groups: dict[str, list[str]] = {}
        for p in self.ports:
            groups.setdefault(terms(p), []).append(str(p.number))
        return "; ".join(f"{', '.join(numbers)} ({words})" for words, numbers in groups.items())

    def open_now(self, now: datetime) -> list[RequestLine]:
        return [line for line in self.history if line.status == "Initiated" and line.end > now]


KEPT_SELECTIONS = 5  # per inventory: the unfiltered view and the last four filtered ones
KEPT_HTML = 2000  # per inventory: table rows as written for a page (about 1 KB each), made again past that
# How a tab is ordered: per sort asked (tables2 asks its default, then the person's), (attribute, descending) pairs.
Ordering = tuple[tuple[tuple[str, bool], ...], ...]


class Selection:
    """The rows one set of filters keeps, per tab in the inventory's order, and each tab's orderings as they are
    asked for: made once per inventory and filters, so that a warm page costs its 25 rows, not the fleet."""

    def __init__(self, rows: Iterable[VmRow]) -> None:
        self.tabs: dict[str, list[VmRow]] = {tab: [] for tab in TAB_KEYS}
        # One row per (subscription, resource group): Azure's rights are per group, so a tab's are its groups'.
        self.groups: dict[str, dict[tuple[str, str], VmRow]] = {tab: {} for tab in TAB_KEYS}
        for row in rows:
            self.tabs[row.tab].append(row)
            self.groups[row.tab].setdefault((row.subscription_id.lower(), row.resource_group.lower()), row)
        self.counts = {tab: len(rows) for tab, rows in self.tabs.items()}
        self._ordered: dict[tuple[str, Ordering], list[VmRow]] = {}
        self._lock = threading.Lock()

    def ordered(self, tab: str, ordering: Ordering) -> list[VmRow]:
        """The tab's rows sorted by each step of `ordering` in turn, stably, as django-tables2 would."""
        if not ordering:
            return self.tabs[tab]
        with self._lock:
            found = self._ordered.get((tab, ordering))
        if found is not None:
            return found
        rows = self.ordered(tab, ordering[:-1])
        for name, descending in reversed(ordering[-1]):
            rows = sorted(rows, key=_sort_key(name, descending), reverse=descending)
        with self._lock:
            return self._ordered.setdefault((tab, ordering), rows)


def _sort_key(name: str, descending: bool) -> Callable[[VmRow], tuple[bool, object]]:
    """A row's value, with no value (a VM never accessed) last whichever way the column is sorted."""
    value = attrgetter(name.replace("__", "."))
    return lambda row: ((value(row) is None) != descending, value(row))


@dataclass(frozen=True, eq=False)
class Inventory:
    rows: tuple[VmRow, ...]
    failures: tuple[FleetFailure, ...]
    subscription_count: int
    azure_now: datetime
    fetched_at: float
    epochs: dict[str, int]
    # What Azure lets this person do, per (subscription id, resource group), lower case: read with the fleet.
    rights: dict[tuple[str, str], Permissions] = field(default_factory=dict)
    loading: FleetLoad[list[VmRow]] | None = None  # while some subscriptions have not answered yet
    sources: frozenset[str] = frozenset()  # "graph" (Azure Resource Graph) and/or "arm" (ARM's lists)
    # When it was made: it is kept INVENTORY_CACHE_SECONDS from then, not from the load's start (at a thousand
    # subscriptions a cold load can take longer than the cache's whole life).
    made_at: float = field(default_factory=time.time)
    notes: tuple[str, ...] = ()  # why some subscriptions were read through ARM's lists instead of Resource Graph
    _selections: OrderedDict[tuple, Selection] = field(default_factory=OrderedDict, repr=False)
    _choices: dict[str, list[tuple[str, str]]] = field(default_factory=dict, repr=False)
    _html: dict[tuple, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _by_vm_id: dict[str, VmRow] | None = field(default=None, repr=False)
    _open_lines: list[tuple[VmRow, RequestLine]] | None = field(default=None, repr=False)

    def select(self, filters: tuple, keep: Callable[[VmRow], bool]) -> Selection:
        """The rows `keep` keeps; `filters` names it. The unfiltered view and the last few filtered ones are kept."""
        with self._lock:
            found = self._selections.get(filters)
            if found is not None:
                self._selections.move_to_end(filters)
                return found
        made = Selection(self.rows if not filters else (r for r in self.rows if keep(r)))
        with self._lock:
            self._selections[filters] = made
            while len(self._selections) > KEPT_SELECTIONS:
                oldest = next(k for k in self._selections if k)  # the unfiltered one stays
                del self._selections[oldest]
        return made

    def choices(self) -> dict[str, list[tuple[str, str]]]:
        """The filters' choices, from the rows: made once, since a form per page would walk the whole fleet."""
        with self._lock:
            if not self._choices:
                self._choices.update(
                    {
                        "subscription": _choices((r.subscription_id, r.subscription_name) for r in self.rows),
                        "resource_group": _choices((r.resource_group.lower(), r.resource_group) for r in self.rows),
                        "region": _choices((r.location, r.location) for r in self.rows),
                        "os": _choices((r.os_type, r.os_type) for r in self.rows),
                    }
                )
            return self._choices

    def row_of(self, vm_id: str) -> VmRow | None:
        """The row of a VM this person can see, by its id in any case; None for any other. The index is made once
        per inventory: pages look up a request's VMs in a 10,000-row fleet many times."""
        with self._lock:
            if self._by_vm_id is None:
                object.__setattr__(self, "_by_vm_id", {r.vm_id.lower(): r for r in self.rows})
        return self._by_vm_id.get(vm_id.lower())

    def open_lines(self) -> list[tuple[VmRow, RequestLine]]:
        """Every request line Azure listed open when the inventory was read, made once per inventory: a page then
        keeps those still open by Azure's clock, whatever the size of the fleet's history."""
        with self._lock:
            if self._open_lines is None:
                object.__setattr__(
                    self, "_open_lines", [(row, line) for row in self.rows for line in row.open_now(self.azure_now)]
                )
            return self._open_lines

    def html(self, key: tuple, make: Callable[[], str]) -> str:
        """What `make` writes of this inventory for `key` (a table row as one person sees it), made once: a warm
        page then costs the joining of its rows. Bounded: past KEPT_HTML pieces, all are made again."""
        found = self._html.get(key)
        if found is None:
            found = make()
            with self._lock:
                if len(self._html) >= KEPT_HTML:
                    self._html.clear()
                self._html[key] = found
        return found

    def permissions(self, row: VmRow) -> Permissions:
        return self.rights.get((row.subscription_id.lower(), row.resource_group.lower()), UNKNOWN)

    def age_seconds(self) -> int:
        return int(time.time() - self.fetched_at)

    @property
    def source_words(self) -> str:
        """Where the rows were read, for the freshness line: Resource Graph can lag Azure by seconds."""
        if "graph" in self.sources:
            also = " and Azure Resource Manager" if "arm" in self.sources else ""
            return f"from Azure Resource Graph{also} (Resource Graph can be seconds behind Azure)"
        return "from Azure Resource Manager"

    def azure_clock(self) -> datetime:
        """Azure's time now: its Date header when the inventory was read, moved on by the time since."""
        return self.azure_now + timedelta(seconds=time.time() - self.fetched_at)


def _choices(values: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", "All")] + sorted(set(values), key=lambda c: c[1].lower())


def _epoch_key(subscription_id: str) -> str:
    return f"inventory-epoch:{subscription_id.lower()}"


# Inventories are kept in this process, unpickled: a 10,000-VM inventory takes ~0.5 s to unpickle
# from Django's cache on every page. The epochs that make them stale live in Django's (shared) cache.
# What they may hold is a memory budget, not a number of people: one person's 10,000-VM inventory weighs
# as much as a hundred people's 100-VM ones. ROW_BYTES is a row with its strings and its place in the
# tab lists and sort orders, measured by `make bench` (one cached inventory's MB / VMs), rounded up.
_LOCAL: OrderedDict[int, Inventory] = OrderedDict()
_LOCAL_LOCK = threading.Lock()
LOCAL_BYTES = 256 * 2**20
ROW_BYTES = 2048


def invalidate(subscription_id: str) -> None:
    """Make every cached inventory holding this subscription stale (after a write to it), and read it from ARM's
    lists, not Resource Graph, for GRAPH_SETTLE_SECONDS: Resource Graph may not show the write yet."""
    key = _epoch_key(subscription_id)
    cache.add(key, 0, timeout=None)
    cache.incr(key)
    if settings.GRAPH_SETTLE_SECONDS:
        cache.set(_written_key(subscription_id), time.time(), timeout=settings.GRAPH_SETTLE_SECONDS)


def _written_key(subscription_id: str) -> str:
    return f"inventory-written:{subscription_id.lower()}"


def written_lately(subscription_ids: list[str]) -> set[str]:
    """The subscriptions (lower case) the portal wrote to within GRAPH_SETTLE_SECONDS: read them from ARM."""
    found = cache.get_many([_written_key(s) for s in subscription_ids])
    return {s.lower() for s in subscription_ids if _written_key(s) in found}


def covers(rights: Permissions) -> bool:
    """Whether a subscription's rights already allow every action the pages check: then so do its groups'
    (a group's are the subscription's and those assigned at the group), and no call per group is needed."""
    return rights.known and all(rights.allows(action) for action in CHECKED)


def forget(user_pk: int | None = None, *, refresh: bool = False) -> None:
    """Drop one person's cached inventory, or everyone's. After a write every load in flight goes too (it may have
    read before the write); a Refresh joins a load that began within REFRESH_JOINS_SECONDS instead of starting
    another (ten clicks made ten whole loads of the fleet)."""
    with _LOCAL_LOCK:
        if user_pk is None:
            _LOCAL.clear()
            _STARTED.clear()
            return
        _LOCAL.pop(user_pk, None)
        started = _STARTED.get(user_pk)
        if not (refresh and started and time.time() - started[1] <= REFRESH_JOINS_SECONDS):
            _STARTED.pop(user_pk, None)


def _cached(user_pk: int) -> Inventory | None:
    with _LOCAL_LOCK:
        found = _LOCAL.get(user_pk)
    if found is None or time.time() - found.made_at >= settings.INVENTORY_CACHE_SECONDS:
        return None
    if found.epochs != _epochs(list(found.epochs)):
        return None
    if found.loading is not None and found.loading.complete:  # the late subscriptions have answered since
        found = _inventory(found.loading, found.fetched_at)
        _keep(user_pk, found)
        _remember_scope(user_pk, found)
    return found


def _remember_scope(user_pk: int, inventory: Inventory) -> None:
    """Keep the person's resource groups when a complete inventory shows a different set (a small write, seldom):
    work done without them, such as telling approvers of a request, then reaches only those who may see it."""
    if inventory.failures or inventory.loading is not None:
        return  # a subscription that did not answer is not one Azure refuses them
    groups = sorted({scope_key(r.subscription_id, r.resource_group) for r in inventory.rows})
    digest = hashlib.sha256("\n".join(groups).encode()).hexdigest()
    if not SeenScope.objects.filter(user_id=user_pk, digest=digest).exists():
        SeenScope.objects.update_or_create(user_id=user_pk, defaults={"groups": groups, "digest": digest})


def _keep(user_pk: int, inventory: Inventory) -> None:
    with _LOCAL_LOCK:
        _LOCAL[user_pk] = inventory
        _LOCAL.move_to_end(user_pk)
        held = sum(len(i.rows) for i in _LOCAL.values()) * ROW_BYTES
        while held > LOCAL_BYTES and len(_LOCAL) > 1:
            _, oldest = _LOCAL.popitem(last=False)
            held -= len(oldest.rows) * ROW_BYTES


def _watch(user_pk: int, inventory: Inventory) -> None:
    """An admin's fresh read keeps the exposure windows when the read-only app identity does not (README)."""
    if settings.AUDIT_READER_CLIENT_ID or not User.objects.filter(pk=user_pk, groups__name=ADMIN).exists():
        return
    observe(Seen(inventory.rows, inventory.failures, inventory.azure_now))


@dataclass(frozen=True)
class Loading:
    """A cold inventory still loading: what the page says while it waits (how many subscriptions are in)."""

    done: int
    total: int
    seconds: int


# Cold loads in progress, per person, in this process: a page that does not wait for the whole fleet shows their
# progress and looks again; the next view takes the load over rather than start another. Kept with it: when it
# started, and how many subscriptions were in when it last moved, and when.
_STARTED: dict[int, tuple[FleetLoad[list[VmRow]], float, int, float]] = {}
_STARTED_LOCKS: dict[int, threading.Lock] = {}
REFRESH_JOINS_SECONDS = 10


def inventory_within(session, user_pk: int, seconds: float | None) -> Inventory | Loading:
    """The person's inventory if it is (or becomes) ready within `seconds`, else how far its load has come. The
    load goes on in the background between views (its own pool), so a fleet of a thousand subscriptions shows
    progress instead of a blank wait."""
    inventory = _cached(user_pk)
    if inventory is not None:
        return inventory
    with _LOCAL_LOCK:
        lock = _STARTED_LOCKS.setdefault(user_pk, threading.Lock())
    with lock:  # one load per person, whoever asks first; other people's pages never wait here
        load, fetched_at, seen, moved_at = _STARTED.get(user_pk) or (None, 0.0, 0, 0.0)
        now = time.time()
        if load is not None and len(load.parts) != seen:
            seen, moved_at = len(load.parts), now
            _STARTED[user_pk] = (load, fetched_at, seen, moved_at)
        # A new load only when the last one stopped moving: a long one still making progress is never restarted
        # (that doubled the work at a thousand subscriptions and never finished).
        if load is None or now - moved_at > settings.AZURE_TIMEOUT_SECONDS * 4:
            fetched_at = moved_at = now
            load = gateway.load_fleet(session, _classified, covers=covers, on_arm=written_lately, wait=False)
            _STARTED[user_pk] = (load, fetched_at, 0, moved_at)
    try:
        ready = load.wait(seconds)
    except BaseException:
        _STARTED.pop(user_pk, None)
        raise
    if not ready:
        return Loading(len(load.parts), len(load.subscriptions), int(time.time() - fetched_at))
    _STARTED.pop(user_pk, None)
    inventory = _inventory(load, fetched_at)
    _keep(user_pk, inventory)
    _remember_scope(user_pk, inventory)
    _watch(user_pk, inventory)
    return inventory


def get_inventory(session, user_pk: int, *, complete: bool = False) -> Inventory:
    """The person's inventory, cached. A page lists it as soon as all but a late few subscriptions are in;
    `complete` (pages that act on chosen VMs) waits for the late ones too, up to Azure's timeout."""
    inventory = inventory_within(session, user_pk, None)
    assert isinstance(inventory, Inventory)  # no limit: it waited for the load
    if complete and inventory.loading is not None and inventory.loading.wait_all(settings.AZURE_TIMEOUT_SECONDS):
        inventory = _inventory(inventory.loading, inventory.fetched_at)
        _keep(user_pk, inventory)
        _remember_scope(user_pk, inventory)
    return inventory


def fleet_read(
    credential, subscriptions: tuple, azure_now: datetime, seconds: float
) -> tuple[tuple[VmRow, ...], tuple[FleetFailure, ...]]:
    """Every subscription's rows read with `credential` (the app's read-only identity), waiting up to `seconds`
    for late ones; no rights are asked (the app acts on nothing)."""
    load = FleetLoad(credential, subscriptions, azure_now, lambda sub, now: (rows_of(sub, now), []))
    load.wait_all(seconds)
    found = _inventory(load, time.time())
    return found.rows, found.failures


def _classified(sub: SubscriptionFleet, now: datetime) -> tuple[list[VmRow], list[str]]:
    """A subscription's rows, and its resource groups with a VM JIT can protect: one permissions call each,
    so that what may be done is known before anyone fills a form Azure would refuse."""
    rows = rows_of(sub, now)
    return rows, sorted({r.resource_group for r in rows if r.tab != UNSUPPORTED})


def _inventory(load: FleetLoad[list[VmRow]], fetched_at: float) -> Inventory:
    """What has arrived of `load`, in its subscriptions' order; those still loading show as failures."""
    parts = [(sub, load.parts.get(sub.subscription_id)) for sub in load.subscriptions]
    return Inventory(
        rows=tuple(row for _, part in parts if part is not None and part.made for row in part.made),
        failures=tuple(
            part.failure if part is not None else FleetFailure(sub, STILL_LOADING)
            for sub, part in parts
            if part is None or part.failure is not None
        ),
        subscription_count=len(parts),
        azure_now=load.azure_now,
        fetched_at=fetched_at,
        epochs=_epochs([sub.subscription_id for sub in load.subscriptions]),
        rights={key: value for _, part in parts if part is not None for key, value in part.rights.items()},
        loading=None if all(part is not None for _, part in parts) else load,
        sources=frozenset(part.source for _, part in parts if part is not None and part.failure is None),
        notes=tuple(dict.fromkeys(part.note for _, part in parts if part is not None and part.note)),
    )


def _epochs(subscription_ids: list[str]) -> dict[str, int]:
    found = cache.get_many([_epoch_key(s) for s in subscription_ids])
    return {s: found.get(_epoch_key(s), 0) for s in subscription_ids}


def rows_of(sub: SubscriptionFleet, now: datetime) -> list[VmRow]:
    policies = {vm.vm_id.lower(): (policy, vm) for policy in sub.policies for vm in policy.vms}
    histories = _histories(sub.policies)
    judge = FleetJudge(sub, settings.JIT_MAX_SOURCE_PREFIX_V4, settings.JIT_MAX_SOURCE_PREFIX_V6)
    return [
        _row(
            sub,
            vm,
            found,
            histories.get((found[0].policy_id.lower(), vm.vm_id.lower()), []) if found else [],
            now,
            judge,
        )
        for vm in sub.vms
        for found in [policies.get(vm.vm_id.lower())]
    ]


def _open_ports(history: list[RequestLine], now: datetime) -> dict[int, tuple[str, datetime]]:
    """Port → (who, until) of the requests Azure has open now (the newest first, so the newest wins)."""
    found: dict[int, tuple[str, datetime]] = {}
    for line in history:
        if line.status == "Initiated" and line.end > now:
            found.setdefault(line.port, (line.requestor, line.end))
    return found


def _row(
    sub: SubscriptionFleet,
    vm: VmFacts,
    configured: tuple[JitPolicy, PolicyVm] | None,
    history: list[RequestLine],
    now: datetime,
    judge: FleetJudge,
) -> VmRow:
    nic = sub.nics.get(vm.nic_ids[0].lower()) if vm.nic_ids else None
    nsg = (nic.nsg_id or sub.subnet_nsgs.get(nic.subnet_id.lower(), "")) if nic else ""
    vnet = nic.subnet_id.rsplit("/subnets/", 1)[0].lower() if nic else ""
    wall = next((f for f in sub.firewalls if f.vnet_id.lower() == vnet), None)
    protection = f"NSG {nsg.rsplit('/', 1)[-1]}" if nsg else f"Azure Firewall {wall.name}" if wall else ""
    # Interned: these repeat across thousands of rows, and each JSON answer made its own copies.
    base = dict(
        vm_id=vm.vm_id,
        name=vm.name,
        subscription_id=sys.intern(vm.subscription_id),
        subscription_name=sub.subscription.display_name,
        resource_group=sys.intern(vm.resource_group),
        location=sys.intern(vm.location),
        os_type=sys.intern(vm.os_type),
        power_state=sys.intern(vm.power_state),
        protection=sys.intern(protection),
        admin_username=sys.intern(vm.admin_username),
        private_ip=nic.private_ip if nic else "",
        public_ip=sub.public_ips.get(nic.public_ip_id.lower(), "") if nic and nic.public_ip_id else "",
    )
    unsupported = _unsupported_reason(sub, vm, nsg, wall)
    if configured is not None and not vm.classic:
        policy, entry = configured
        # An early end and an extension are not new approvals (their words say which: core.justifications); the
        # last user is who asked, not the approver whose token opened it nor who ended it.
        recent, latest = _granted(history, now - RECENT)
        health = judge.judge(
            nic, tuple(p.number for p in entry.ports), wall.name if wall else "", _open_ports(history, now)
        )
        return VmRow(
            **base,
            tab=CONFIGURED,
            policy_id=policy.policy_id,
            ports=entry.ports,
            jit_address=entry.public_ip,
            approved_7d=len(recent),
            last_access=latest[0].start if latest else None,
            last_user=(latest[1].requester or latest[0].requestor) if latest else "",
            history=tuple(history),
            health=health,
        )
    if unsupported:
        reason, fix = REASONS[unsupported]
        return VmRow(**base, tab=UNSUPPORTED, reason=reason, fix=fix)
    return VmRow(**base, tab=NOT_CONFIGURED, health=judge.judge(nic, None, wall.name if wall else "", {}))


def _granted(history: list[RequestLine], since: datetime) -> tuple[set[datetime], tuple | None]:
    """The starts of new grants since `since`, and the newest line that is no early end with its words read. History
    is newest first: the walk stops once past `since` with the newest found (it can hold 100,000 requests)."""
    recent: set[datetime] = set()
    latest = None
    for line in history:
        if line.start < since and latest is not None:
            break
        read = justifications.read(line.justification)
        if read.kind == "ended":
            continue
        latest = latest or (line, read)
        if read.kind == "grant" and line.start >= since:
            recent.add(line.start)
    return recent, latest


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


def _histories(policies: tuple[JitPolicy, ...]) -> dict[tuple[str, str], list[RequestLine]]:
    """Each VM's request lines in each policy (lower-case ids), newest first: one pass over the requests,
    since a policy's history is shared by its VMs and can hold thousands of requests."""
    found: dict[tuple[str, str], list[RequestLine]] = {}
    for policy in policies:
        for request in policy.requests:
            for vm in request.vms:
                found.setdefault((policy.policy_id.lower(), vm.vm_id.lower()), []).extend(
                    RequestLine.of(request, port) for port in vm.ports
                )
    for lines in found.values():
        lines.sort(key=lambda line: line.start, reverse=True)
    return found
