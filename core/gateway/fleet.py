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
from .parse import classic_vm, firewall, nic, policy, security_group, subscription, vm_facts
from .permissions import Permissions, read_permissions
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
STILL_LOADING = "Azure has not answered yet; it shows here when it does (reload the page)."


@dataclass(frozen=True)
class Part(Generic[R]):
    """One subscription's share of a page: what the caller made of its fleet and its groups' rights, or why not."""

    subscription: Subscription
    made: R | None
    rights: dict[tuple[str, str], Permissions]
    failure: FleetFailure | None = None


def load_fleet(
    session: MutableMapping[str, Any], then: Callable[[SubscriptionFleet, datetime], tuple[R, list[str]]]
) -> FleetLoad[R]:
    """ARM: the person's subscriptions; then per subscription VMs (twice: model and power state), NICs,
    virtual networks, public IPs, Azure Firewalls, classic VMs, Defender pricings, JIT policies
    (jitNetworkAccessPolicies - List); `then` makes what the caller keeps of each subscription's fleet
    (on a pool thread, while the others load) and names the resource groups whose rights to read
    (Permissions - List For Resource Group). Returns once `FleetLoad.wait` would."""
    credential = UserCredential(session)
    items, now = read_list(credential, "/subscriptions", {"api-version": RESOURCES_VERSION}, "your subscriptions")
    subscriptions = tuple(sorted((subscription(s) for s in items), key=lambda s: s.display_name.lower()))
    load = FleetLoad(credential, subscriptions, now or datetime.now(UTC), then)
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
    ) -> None:
        self.subscriptions = subscriptions
        self.azure_now = azure_now  # Azure's clock: the Date of its first answer
        self.parts: dict[str, Part[R]] = {}
        self.error: BaseException | None = None  # what stops the whole load (SignInRequired)
        self._then = then
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
            for sub in subscriptions:
                self._start(credential, sub)
            self._fill()

    @property
    def complete(self) -> bool:
        return len(self.parts) == len(self.subscriptions)

    def pending(self) -> tuple[Subscription, ...]:
        with self._changed:
            return tuple(self._pending())

    def wait(self) -> None:
        """Until every subscription is in, or all but a few late ones (see LATE_SHARE)."""
        enough = max(1, len(self.subscriptions) - self._allowed_late)
        with self._changed:
            while not (
                self.error is not None
                or self.complete
                or (len(self.parts) >= enough and self._only_late_left(self._late()))
            ):
                self._changed.wait(timeout=LOOK_AGAIN_SECONDS)
            if self.error is not None:
                raise self.error

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
        return all(s.subscription_id in late for s in self._pending())

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

    def _start(self, credential: UserCredential, sub: Subscription) -> None:
        answers: dict[str, tuple[list[dict], datetime | None] | BaseException] = {}

        def listed(key: str, future: Future) -> None:
            with self._changed:
                answers[key] = future.exception() or future.result()
                if len(answers) < len(LISTS):
                    return
            self._assembled(credential, sub, answers)

        for key, path, version, extra, _ in LISTS:
            self._call(sub, partial(_fetch, credential, sub, path, version, extra), partial(listed, key))

    def _assembled(
        self,
        credential: UserCredential,
        sub: Subscription,
        answers: dict[str, tuple[list[dict], datetime | None] | BaseException],
    ) -> None:
        fatal = next(
            (a for a in answers.values() if isinstance(a, BaseException) and not isinstance(a, GatewayError)), None
        )
        if fatal is not None:
            raise fatal
        problem = next(
            (answers[key] for key, *_, required in LISTS if required and isinstance(answers[key], GatewayError)), None
        )
        if problem is not None:
            self._done(Part(sub, None, {}, FleetFailure(sub, problem.message)))
            return
        lists = {k: ([] if isinstance(v, GatewayError) else v[0]) for k, v in answers.items()}
        nsgs_refused = answers.get("nsgs")
        fleet = _assemble(sub, lists, nsgs_refused.message if isinstance(nsgs_refused, GatewayError) else "")
        made, groups = self._then(fleet, self.azure_now)
        if not groups:
            self._done(Part(sub, made, {}))
            return
        rights: dict[tuple[str, str], Permissions] = {}

        def read(group: str, future: Future) -> None:
            with self._changed:
                rights[(sub.subscription_id.lower(), group.lower())] = future.result()
                if len(rights) < len(groups):
                    return
            self._done(Part(sub, made, rights))

        for group in groups:
            self._call(sub, partial(_rights, credential, sub.subscription_id, group), partial(read, group))

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
