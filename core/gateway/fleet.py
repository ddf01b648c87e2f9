"""The fleet as Azure shows it to the signed-in person: VMs, their network, JIT policies, and rights.

Cost: one paged list per subscription for each kind of resource, then one permissions call per resource
group the caller asks about, all in one pool; nothing per VM. A subscription's rights are asked as soon as
its own lists are in, and a page does not wait for a few subscriptions whose calls Azure answers far more
slowly than the others': they keep loading, and a later page shows them.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

from django.conf import settings

from .auth import UserCredential
from .errors import GatewayError
from .graph import BATCH_LIMIT, KINDS, QUERIES, REQUIRED, batches, try_rows
from .parse import (
    classic_vm,
    firewall,
    firewall_of,
    graph_classic_vm,
    graph_vm,
    nic,
    nic_of,
    policy,
    security_group,
    security_group_of,
    subscription,
    vm_facts,
)
from .permissions import UNKNOWN, Permissions, read_permissions
from .policies import JIT_VERSION
from .raw import read_list, try_list
from .subscriptions import RESOURCES_VERSION
from .types import FleetFailure, Subscription, SubscriptionFleet

R = TypeVar("R")
COMPUTE_VERSION = "2024-07-01"
NETWORK_VERSION = "2024-05-01"
CLASSIC_VERSION = "2017-04-01"
PRICING_VERSION = "2024-01-01"
# (key, path below the subscription, api-version, extra query, required for the tab to be right)
LISTS = (
    ("vms", "providers/Microsoft.Compute/virtualMachines", COMPUTE_VERSION, {}, True),
    ("power", "providers/Microsoft.Compute/virtualMachines", COMPUTE_VERSION, {"statusOnly": "true"}, False),
    ("nics", "providers/Microsoft.Network/networkInterfaces", NETWORK_VERSION, {}, True),
    ("vnets", "providers/Microsoft.Network/virtualNetworks", NETWORK_VERSION, {}, True),
    ("pips", "providers/Microsoft.Network/publicIPAddresses", NETWORK_VERSION, {}, False),
    ("firewalls", "providers/Microsoft.Network/azureFirewalls", NETWORK_VERSION, {}, False),
    ("classic", "providers/Microsoft.ClassicCompute/virtualMachines", CLASSIC_VERSION, {}, False),
    ("pricings", "providers/Microsoft.Security/pricings", PRICING_VERSION, {}, False),
    ("policies", "providers/Microsoft.Security/jitNetworkAccessPolicies", JIT_VERSION, {}, True),
    # Rules included (their own and the defaults): what JIT's health is judged from, never per-NIC effective rules.
    ("nsgs", "providers/Microsoft.Network/networkSecurityGroups", NETWORK_VERSION, {}, False),
)


# A page waits for every subscription but a few late ones (at most a tenth, at least one must be in), which
# show as still loading. Late: Azure usually takes, or is now taking, LATE_FACTOR times as long as it usually
# does for the others, and at least LATE_AFTER_SECONDS, to answer one of its requests (a page of a list: a long
# list is not late, only a slow one; one slow answer, as the first on a busy machine, is not either). A page
# with one slow subscription is thus ready when the others are.
LATE_SHARE = 0.1
LATE_AFTER_SECONDS = 0.5
LATE_FACTOR = 4
LOOK_AGAIN_SECONDS = 0.05  # lateness grows with time, not only when a call ends
# Which kinds of rows each Resource Graph query gives.
TYPES_OF = {"resources": tuple(k for k in KINDS if k != "pricings"), "pricings": ("pricings",)}
GRAPH_TURN = "graph:"  # a Resource Graph batch's turn in the pool, beside the subscriptions' own
STILL_LOADING = "Azure has not answered yet; it shows here when it does (reload the page)."


@dataclass(frozen=True)
class Part(Generic[R]):
    """One subscription's share of a page: what the caller made of its fleet and its groups' rights, or why not."""

    subscription: Subscription
    made: R | None
    rights: dict[tuple[str, str], Permissions]
    failure: FleetFailure | None = None
    source: str = "arm"  # where its resources were read: "graph" (Resource Graph) or "arm" (the ARM lists)
    note: str = ""  # why the ARM lists, when Resource Graph was asked first


def load_fleet(
    session: MutableMapping[str, Any],
    then: Callable[[SubscriptionFleet, datetime], tuple[R, list[str]]],
    *,
    covers: Callable[[Permissions], bool] | None = None,
    on_arm: Callable[[list[str]], set[str]] | None = None,
    wait: bool = True,
) -> FleetLoad[R]:
    """ARM: the person's subscriptions; then their resources — from Resource Graph in batches (VMs with power
    state, NICs, virtual networks, public IPs, Azure Firewalls, classic VMs, NSGs, Defender pricings; see
    graph.py), or per subscription from the ARM lists (settings.FLEET_SOURCE, and the subscriptions `on_arm`
    names: those the portal has just written to) — and per subscription its JIT policies (jitNetworkAccessPolicies
    - List). `then` makes what the caller keeps of each subscription's fleet (on a pool thread, while the others
    load) and names the resource groups whose rights to read (Permissions - List For Resource Group); with
    `covers`, the subscription's rights are read first (Permissions - List) and the groups' only where those do
    not cover what the caller checks. Returns once `FleetLoad.wait` would (at once without `wait`)."""
    credential = UserCredential(session)
    items, now = read_list(credential, "/subscriptions", {"api-version": RESOURCES_VERSION}, "your subscriptions")
    subscriptions = tuple(sorted((subscription(s) for s in items), key=lambda s: s.display_name.lower()))
    arm = on_arm([s.subscription_id for s in subscriptions]) if on_arm is not None else set()
    load = FleetLoad(
        credential,
        subscriptions,
        now or datetime.now(UTC),
        then,
        covers=covers,
        graph=settings.FLEET_SOURCE == "graph",
        on_arm=arm,
    )
    if wait:
        load.wait()
    return load


class FleetLoad(Generic[R]):
    """Every subscription's lists and rights, loading in one pool; `parts` fills in as they arrive.

    A subscription gets its share of the pool (at least two calls at once) and more only when workers would
    otherwise idle. A late one keeps its share on threads beside the pool's width and gets more only once the
    others are in: its calls, each waiting as long as Azure takes, cannot keep the width from the calls the
    page waits for."""

    def __init__(
        self,
        credential: UserCredential | None,
        subscriptions: tuple[Subscription, ...],
        azure_now: datetime,
        then: Callable[[SubscriptionFleet, datetime], tuple[R, list[str]]] | None,
        *,
        covers: Callable[[Permissions], bool] | None = None,
        graph: bool = False,
        on_arm: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.subscriptions = subscriptions
        self.azure_now = azure_now  # Azure's clock: the Date of its first answer
        self.parts: dict[str, Part[R]] = {}
        self.error: BaseException | None = None  # what stops the whole load (SignInRequired)
        self._then = then
        self._covers = covers
        # Per subscription: the answers in so far, by key (a LISTS key, "g:" + a Resource Graph kind, "rights"), and
        # the keys it waits for.
        self._answers: dict[str, dict[str, Any]] = {}
        self._expect: dict[str, set[str] | None] = {}
        self._notes: dict[str, str] = {}
        self._batches_of: dict[str, set[str]] = {}  # subscription id → the turns of its Resource Graph batches
        self._changed = threading.Condition()
        self._width = settings.AZURE_PARALLEL_CALLS
        self._share = max(2, -(-self._width // max(1, len(subscriptions))))
        self._allowed_late = max(1, int(len(subscriptions) * LATE_SHARE))
        self._threads = self._width + self._share * self._allowed_late  # late calls wait beside the width
        self._waiting: dict[str, deque[tuple[Callable[[Callable[[], None]], Any], Callable[[Future], None]]]] = (
            defaultdict(deque)
        )
        self._running: dict[str, int] = defaultdict(int)
        self._busy = 0  # calls handed to the pool and not finished
        # When each running call last asked Azure (its first request, or its list's next page), per subscription
        # with calls running; every answer's seconds, in order, and each subscription's; the subscriptions whose
        # median answer takes LATE_AFTER_SECONDS or more, with it.
        self._asked: dict[str, list[list[float]]] = {}
        self._took: list[float] = []
        self._took_by: dict[str, list[float]] = defaultdict(list)
        self._slow: dict[str, float] = {}
        if subscriptions and credential is not None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="arm")
            on_graph = [s for s in subscriptions if graph and s.subscription_id.lower() not in on_arm]
            # Resource Graph's queries first: each is a chain of pages, the longest part of the load. The resources
            # in small batches, so that their chains run side by side; the pricing, a row per subscription, in the
            # largest batches Microsoft advises, so that it costs the person's quota least.
            for number, batch in enumerate(batches(on_graph, settings.GRAPH_BATCH_SUBSCRIPTIONS)):
                self._call_batch(credential, f"r{number}", batch, "resources")
            for number, batch in enumerate(batches(on_graph, BATCH_LIMIT)):
                self._call_batch(credential, f"p{number}", batch, "pricings")
            for sub in subscriptions:
                self._start(credential, sub, graph=sub in on_graph)
            self._fill()

    @property
    def complete(self) -> bool:
        return len(self.parts) == len(self.subscriptions)

    def pending(self) -> tuple[Subscription, ...]:
        with self._changed:
            return tuple(self._pending())

    def wait(self, seconds: float | None = None) -> bool:
        """Until every subscription is in, or all but a few late ones (see LATE_SHARE), for at most `seconds`
        (None: as long as it takes); whether the page may show. Raises what stopped the load."""
        enough = max(1, len(self.subscriptions) - self._allowed_late)
        deadline = None if seconds is None else time.monotonic() + seconds
        with self._changed:
            while not (
                ready := self.error is not None
                or self.complete
                or (len(self.parts) >= enough and self._only_late_left(self._late()))
            ):
                left = LOOK_AGAIN_SECONDS if deadline is None else min(deadline - time.monotonic(), LOOK_AGAIN_SECONDS)
                if left <= 0:
                    break
                self._changed.wait(timeout=left)
            if self.error is not None:
                raise self.error
        return ready

    def wait_all(self, seconds: float) -> bool:
        """Until every subscription is in, late ones too, for at most `seconds`; whether all are. For work on
        chosen VMs, which must not take a VM of a late subscription for one the person cannot see."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while self.error is None and not self.complete and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(timeout=min(left, LOOK_AGAIN_SECONDS))
        return self.complete

    def _pending(self) -> list[Subscription]:
        return [s for s in self.subscriptions if s.subscription_id not in self.parts]

    def _late(self) -> set[str]:
        """The subscriptions for which Azure took, or is taking, LATE_FACTOR times as long as it usually does to
        answer a request, and at least LATE_AFTER_SECONDS (under the lock)."""
        now, after = time.monotonic(), max(LATE_AFTER_SECONDS, LATE_FACTOR * _median(self._took))
        return {s for s, usual in self._slow.items() if usual >= after} | {
            s for s, calls in self._asked.items() if now - min(asked for (asked,) in calls) >= after
        }

    def _only_late_left(self, late: set[str]) -> bool:
        """Whether every subscription still out is late, and none waits for a Resource Graph batch: a batch holds
        many subscriptions, and it is the page's own read, not a slow subscription's (under the lock)."""
        open_batches = {key for key, calls in self._waiting.items() if key.startswith(GRAPH_TURN) and calls} | {
            key for key, running in self._running.items() if key.startswith(GRAPH_TURN) and running
        }
        return all(
            s.subscription_id in late and not self._batches_of.get(s.subscription_id, set()) & open_batches
            for s in self._pending()
        )

    def _answered(self, sub_id: str, asked: list[float]) -> None:
        """Azure answered a request of this call (under the lock): its time counts; the next one starts now."""
        now = time.monotonic()
        took, asked[0] = now - asked[0], now
        bisect.insort(self._took, took)
        bisect.insort(self._took_by[sub_id], took)
        usual = _median(self._took_by[sub_id])
        if usual >= LATE_AFTER_SECONDS:
            self._slow[sub_id] = usual
        else:
            self._slow.pop(sub_id, None)

    def _between_pages(self, sub_id: str, asked: list[float]) -> None:
        with self._changed:
            self._answered(sub_id, asked)

    def _call(
        self, sub: Subscription, work: Callable[[Callable[[], None]], Any], done: Callable[[Future], None]
    ) -> None:
        """`work` on the pool in its turn (see `_fill`, which the caller runs), given what to call between the
        pages of a list; then `done` with its future."""
        with self._changed:
            self._waiting[sub.subscription_id].append((work, done))

    def _next(self) -> str | None:
        """Whose waiting call starts now, if any (under the lock): each subscription's up to its share within
        the width (a late one's beside it), then any beyond it while the width would idle."""
        waiting = [s for s, calls in self._waiting.items() if calls]
        if not waiting or self._busy >= self._threads:
            return None
        if self._busy < self._width and waiting[0].startswith(GRAPH_TURN):
            return waiting[0]  # a batch's queries hold many subscriptions each: they go first, within the width
        late = self._late()
        free = self._width - self._busy + sum(self._running[s] for s in late)
        found = next((s for s in waiting if self._running[s] < self._share and (free > 0 or s in late)), None)
        if found is not None or free <= 0:
            return found
        only_late_left = self._busy < self._width and self._only_late_left(late)
        return next((s for s in waiting if s not in late or only_late_left), None)

    def _fill(self) -> None:
        """Start the waiting calls that may start (see `_next`)."""
        while True:
            with self._changed:
                sub_id = self._next() if self.error is None else None
                if sub_id is None:
                    return
                work, done = self._waiting[sub_id].popleft()
                self._running[sub_id] += 1
                self._busy += 1
                asked = [time.monotonic()]
                self._asked.setdefault(sub_id, []).append(asked)
            self._pool.submit(work, partial(self._between_pages, sub_id, asked)).add_done_callback(
                partial(self._finished, sub_id, asked, done)
            )

    def _finished(self, sub_id: str, asked: list[float], done: Callable[[Future], None], future: Future) -> None:
        with self._changed:
            self._running[sub_id] -= 1
            self._busy -= 1
            self._answered(sub_id, asked)
            self._asked[sub_id].remove(asked)
            if not self._asked[sub_id]:
                del self._asked[sub_id]
        self._guarded(lambda: done(future))
        self._fill()

    def _start(self, credential: UserCredential, sub: Subscription, graph: bool) -> None:
        """A subscription's own calls: its JIT policies, its rights (with `covers`), and its ARM lists unless
        Resource Graph reads its resources (`_call_batch`)."""
        lists = [entry for entry in LISTS if entry[0] == "policies" or not graph]
        sub_id = sub.subscription_id
        self._answers[sub_id] = {}
        self._expect[sub_id] = (
            {key for key, *_ in lists}
            | ({f"g:{query}" for query in QUERIES} if graph else set())
            | ({"rights"} if self._covers is not None else set())
        )
        self._lists(credential, sub, lists)
        if self._covers is not None:
            self._call(sub, partial(_rights, credential, sub_id, ""), partial(self._listed, credential, sub, "rights"))

    def _lists(self, credential: UserCredential, sub: Subscription, lists) -> None:
        for key, path, version, extra, _ in lists:
            self._call(
                sub, partial(_fetch, credential, sub, path, version, extra), partial(self._listed, credential, sub, key)
            )

    def _call_batch(self, credential: UserCredential, name: str, batch: list[Subscription], query: str) -> None:
        """One Resource Graph query over a batch of subscriptions, its rows handed to each of them by kind."""
        ids = [s.subscription_id for s in batch]
        for sub_id in ids:
            self._batches_of.setdefault(sub_id, set()).add(f"{GRAPH_TURN}{name}")

        def done(future: Future) -> None:
            found = future.exception() or future.result()
            for sub in batch:
                value = found if isinstance(found, BaseException) else found.get(sub.subscription_id.lower(), {})
                self._listed(credential, sub, f"g:{query}", value=value)

        with self._changed:
            self._waiting[f"{GRAPH_TURN}{name}"].append((partial(_query, credential, ids, query), done))

    def _listed(
        self,
        credential: UserCredential,
        sub: Subscription,
        key: str,
        future: Future | None = None,
        *,
        value: Any = None,
    ) -> None:
        sub_id = sub.subscription_id
        with self._changed:
            answers = self._answers[sub_id]
            answers[key] = value if future is None else (future.exception() or future.result())
            expected = self._expect[sub_id]
            if expected is None or not expected <= answers.keys():
                return
            self._expect[sub_id] = None  # assembled once
        self._assembled(credential, sub, answers)

    def _assembled(self, credential: UserCredential, sub: Subscription, answers: dict[str, Any]) -> None:
        fatal = next(
            (a for a in answers.values() if isinstance(a, BaseException) and not isinstance(a, GatewayError)), None
        )
        if fatal is not None:
            raise fatal
        graph = any(key.startswith("g:") for key in answers)
        refused = next((a for k, a in answers.items() if k.startswith("g:") and isinstance(a, GatewayError)), None)
        if refused is not None and settings.GRAPH_FALLBACK:
            self._fall_back(credential, sub, answers, refused)
            return
        if graph:  # the two queries' rows by kind, as the ARM lists' keys with "g:" before them
            answers = {
                **{k: v for k, v in answers.items() if not k.startswith("g:")},
                **{
                    f"g:{kind}": answer if isinstance(answer, GatewayError) else answer.get(kind, [])
                    for query in QUERIES
                    for answer in [answers[f"g:{query}"]]
                    for kind in (TYPES_OF[query])
                },
            }
        required = {f"g:{k}" for k in REQUIRED} | {"policies"} if graph else {k for k, *_, req in LISTS if req}
        problem = next((answers[k] for k in sorted(required) if isinstance(answers[k], GatewayError)), None)
        if problem is not None:
            self._done(Part(sub, None, {}, FleetFailure(sub, problem.message)))
            return
        lists = {
            k: ([] if isinstance(v, GatewayError) else v if k.startswith("g:") or k == "rights" else v[0])
            for k, v in answers.items()
        }
        if graph and (unseen := _network_unseen(lists)):
            self._done(Part(sub, None, {}, FleetFailure(sub, unseen), source="graph"))
            return
        nsgs_refused = answers.get("g:nsgs" if graph else "nsgs")
        nsgs_error = nsgs_refused.message if isinstance(nsgs_refused, GatewayError) else ""
        fleet = (_assemble_graph if graph else _assemble)(sub, lists, nsgs_error)
        made, groups = self._then(fleet, self.azure_now)
        source, note = "graph" if graph else "arm", self._notes.get(sub.subscription_id, "")
        rights: dict[tuple[str, str], Permissions] = {}
        own = answers.get("rights", UNKNOWN)
        if groups and self._covers is not None and self._covers(own):
            # Rights at a group are the subscription's and more (assignments there): these already cover it.
            rights = {(sub.subscription_id.lower(), g.lower()): own for g in groups}
            groups = []
        if not groups:
            self._done(Part(sub, made, rights, source=source, note=note))
            return

        def read(group: str, future: Future) -> None:
            with self._changed:
                rights[(sub.subscription_id.lower(), group.lower())] = future.result()
                if len(rights) < len(groups):
                    return
            self._done(Part(sub, made, rights, source=source, note=note))

        for group in groups:
            self._call(sub, partial(_rights, credential, sub.subscription_id, group), partial(read, group))

    def _fall_back(
        self, credential: UserCredential, sub: Subscription, answers: dict[str, Any], refused: GatewayError
    ) -> None:
        """Resource Graph refused this subscription's batch: its resources from the ARM lists instead, said."""
        lists = [entry for entry in LISTS if entry[0] != "policies"]
        with self._changed:
            for key in [k for k in answers if k.startswith("g:")]:
                del answers[key]
            self._expect[sub.subscription_id] = set(answers) | {key for key, *_ in lists}
            self._notes[sub.subscription_id] = f"Read through Azure Resource Manager's lists: {refused.message}"
        self._lists(credential, sub, lists)
        self._fill()

    def _guarded(self, step: Callable[[], None]) -> None:
        # Pool callbacks swallow exceptions: one here would leave the page waiting forever.
        try:
            step()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting page, which raises it
            with self._changed:
                self.error = self.error or error
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._changed.notify_all()

    def _done(self, part: Part[R]) -> None:
        with self._changed:
            self.parts[part.subscription.subscription_id] = part
            if self.complete:
                self._pool.shutdown(wait=False)
            self._changed.notify_all()


def _median(ordered: list[float]) -> float:
    """The lower median: of two answers, one slow one does not make a subscription slow."""
    return ordered[(len(ordered) - 1) // 2] if ordered else 0.0


def _fetch(
    credential: UserCredential,
    sub: Subscription,
    path: str,
    version: str,
    extra: dict[str, str],
    between_pages: Callable[[], None],
) -> tuple[list[dict], datetime | None] | GatewayError:
    return try_list(
        credential,
        f"/subscriptions/{sub.subscription_id}/{path}",
        {"api-version": version, **extra},
        f"{path.rsplit('/', 1)[-1]} in {sub.display_name}",
        sub.subscription_id,
        between_pages,
    )


def _rights(
    credential: UserCredential, subscription_id: str, group: str, _between_pages: Callable[[], None]
) -> Permissions:
    return read_permissions(credential, subscription_id, group)


def _query(
    credential: UserCredential, subscription_ids: list[str], kind: str, between_pages: Callable[[], None]
) -> dict[str, list[dict]] | GatewayError:
    return try_rows(credential, subscription_ids, kind, between_pages)


def _assemble(sub: Subscription, lists: dict[str, list[dict]], nsgs_error: str = "") -> SubscriptionFleet:
    power = {item["id"].lower(): item for item in lists["power"]}
    subnet_nsgs = {
        s["id"].lower(): ((s.get("properties") or {}).get("networkSecurityGroup") or {}).get("id", "")
        for v in lists["vnets"]
        for s in (v.get("properties") or {}).get("subnets", [])
    }
    pricing = next((p for p in lists["pricings"] if p.get("name") == "VirtualMachines"), None)
    plan = (pricing or {}).get("properties", {})
    jit_available = pricing is None or (plan.get("pricingTier") == "Standard" and plan.get("subPlan", "P2") == "P2")
    nics = [nic(n) for n in lists["nics"]]
    return SubscriptionFleet(
        subscription=sub,
        vms=tuple(
            [vm_facts(v, power.get(v["id"].lower()), sub.subscription_id) for v in lists["vms"]]
            + [classic_vm(v, sub.subscription_id) for v in lists["classic"]]
        ),
        nics={n.nic_id.lower(): n for n in nics},
        subnet_nsgs={k: v for k, v in subnet_nsgs.items() if v},
        public_ips={p["id"].lower(): (p.get("properties") or {}).get("ipAddress", "") for p in lists["pips"]},
        firewalls=tuple(f for f in (firewall(x) for x in lists["firewalls"]) if f is not None),
        jit_plan_available=jit_available,
        policies=tuple(policy(p, sub.subscription_id) for p in lists["policies"]),
        nsgs=None if nsgs_error else {g.nsg_id.lower(): g for g in map(security_group, lists.get("nsgs", ()))},
        nsgs_error=nsgs_error,
        vnet_prefixes={
            v["id"].lower(): tuple(((v.get("properties") or {}).get("addressSpace") or {}).get("addressPrefixes") or ())
            for v in lists["vnets"]
        },
    )


def _network_unseen(lists: dict[str, list[dict]]) -> str:
    """Why Resource Graph's rows cannot tell the tabs, if they cannot: it leaves out the rows a person may not read
    where an ARM list is refused whole, so a VM whose network interface, or whose interface's virtual network, is
    not among the rows would read as unprotected. ("" when every VM's network is there.)"""
    nics = {n["id"].lower(): n for n in lists["g:nics"]}
    vnets = {v["id"].lower() for v in lists["g:vnets"]}
    for vm in lists["g:vms"]:
        first = next((n["id"] for n in vm.get("nics") or () if n.get("id")), "")
        found = nics.get(first.lower()) if first else None
        if first and found is None:
            return (
                "Azure lets you read its virtual machines but not all of their network interfaces (or Resource "
                "Graph has not caught up yet), so JIT's status here cannot be told."
            )
        configs = (found or {}).get("ipConfigurations") or ()
        subnet = next((((c.get("properties") or {}).get("subnet") or {}).get("id", "") for c in configs), "")
        if "/subnets/" in subnet and subnet.rsplit("/subnets/", 1)[0].lower() not in vnets:
            return (
                "Azure lets you read its virtual machines but not all of their virtual networks (or Resource "
                "Graph has not caught up yet), so JIT's status here cannot be told."
            )
    return ""


def _assemble_graph(sub: Subscription, lists: dict[str, list[dict]], nsgs_error: str = "") -> SubscriptionFleet:
    """A subscription's fleet from Resource Graph's projected rows (docs/resource-graph.md) and its ARM policies."""
    sub_id = sub.subscription_id
    subnet_nsgs = {
        s["id"].lower(): nsg
        for v in lists["g:vnets"]
        for s in v.get("subnets") or ()
        if (nsg := ((s.get("properties") or {}).get("networkSecurityGroup") or {}).get("id"))
    }
    pricing = next(iter(lists["g:pricings"]), None)
    jit_available = pricing is None or (
        pricing.get("pricingTier") == "Standard" and (pricing.get("subPlan") or "P2") == "P2"
    )
    nics = [nic_of(n["id"], n.get("ipConfigurations") or [], n.get("nsg") or "") for n in lists["g:nics"]]
    walls = (
        firewall_of(f["id"], f.get("name") or "", f.get("ipConfigurations") or [], bool(f.get("firewallPolicy")))
        for f in lists["g:firewalls"]
    )
    return SubscriptionFleet(
        subscription=sub,
        vms=tuple(
            [graph_vm(v, sub_id) for v in lists["g:vms"]] + [graph_classic_vm(v, sub_id) for v in lists["g:classic"]]
        ),
        nics={n.nic_id.lower(): n for n in nics},
        subnet_nsgs=subnet_nsgs,
        public_ips={p["id"].lower(): p.get("ip") or "" for p in lists["g:pips"]},
        firewalls=tuple(f for f in walls if f is not None),
        jit_plan_available=jit_available,
        policies=tuple(policy(p, sub_id) for p in lists["policies"]),
        nsgs=None
        if nsgs_error
        else {
            g["id"].lower(): security_group_of(
                g["id"], g.get("name") or "", g.get("securityRules"), g.get("defaultSecurityRules")
            )
            for g in lists["g:nsgs"]
        },
        nsgs_error=nsgs_error,
        vnet_prefixes={v["id"].lower(): tuple(v.get("prefixes") or ()) for v in lists["g:vnets"]},
    )
