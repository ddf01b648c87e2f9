"""The fleet as Azure shows it to the signed-in person: VMs, their network, and JIT policies.

Cost: one paged list per subscription for each kind of resource, all in parallel; nothing per VM.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

from .auth import UserCredential
from .clients import parallel
from .errors import GatewayError
from .parse import classic_vm, firewall, nic, policy, vm_facts
from .raw import try_list
from .subscriptions import list_subscriptions_with
from .types import Fleet, FleetFailure, Subscription, SubscriptionFleet

COMPUTE_VERSION = "2024-07-01"
NETWORK_VERSION = "2024-05-01"
CLASSIC_VERSION = "2017-04-01"
PRICING_VERSION = "2024-01-01"
JIT_VERSION = "2020-01-01"
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
)


def load_fleet(session: MutableMapping[str, Any]) -> Fleet:
    """ARM, per subscription: VMs (twice: model and power state), NICs, virtual networks, public IPs,
    Azure Firewalls, classic VMs, Defender pricings, JIT policies (jitNetworkAccessPolicies - List)."""
    credential = UserCredential(session)
    subscriptions = list_subscriptions_with(credential)
    if not subscriptions:
        return Fleet((), (), datetime.now(UTC))
    work = [(s, key, path, version, extra) for s in subscriptions for key, path, version, extra, _ in LISTS]
    answers = parallel(lambda w: _fetch(credential, w[0], w[2], w[3], w[4]), work)
    results = {(w[0].subscription_id, w[1]): answer for w, answer in zip(work, answers, strict=True)}
    fleets, failures, times = [], [], []
    for sub in subscriptions:
        lists = {key: results[(sub.subscription_id, key)] for key, *_ in LISTS}
        problem = next((lists[key] for key, *_, required in LISTS
                        if required and isinstance(lists[key], GatewayError)), None)
        if problem is not None:
            failures.append(FleetFailure(sub, problem.message))
            continue
        times += [t for items, t in (v for v in lists.values() if not isinstance(v, GatewayError)) if t]
        fleets.append(_assemble(sub, {k: ([] if isinstance(v, GatewayError) else v[0]) for k, v in lists.items()}))
    return Fleet(tuple(fleets), tuple(failures), min(times) if times else datetime.now(UTC))


def _fetch(credential: UserCredential, sub: Subscription, path: str, version: str,
           extra: dict[str, str]) -> tuple[list[dict], datetime | None] | GatewayError:
    return try_list(credential, f"/subscriptions/{sub.subscription_id}/{path}", {"api-version": version, **extra},
                    f"{path.rsplit('/', 1)[-1]} in {sub.display_name}", sub.subscription_id)


def _assemble(sub: Subscription, lists: dict[str, list[dict]]) -> SubscriptionFleet:
    power = {item["id"].lower(): item for item in lists["power"]}
    subnet_nsgs = {s["id"].lower(): ((s.get("properties") or {}).get("networkSecurityGroup") or {}).get("id", "")
                   for v in lists["vnets"] for s in (v.get("properties") or {}).get("subnets", [])}
    pricing = next((p for p in lists["pricings"] if p.get("name") == "VirtualMachines"), None)
    plan = (pricing or {}).get("properties", {})
    jit_available = pricing is None or (plan.get("pricingTier") == "Standard" and plan.get("subPlan", "P2") == "P2")
    nics = [nic(n) for n in lists["nics"]]
    return SubscriptionFleet(
        subscription=sub,
        vms=tuple([vm_facts(v, power.get(v["id"].lower()), sub.subscription_id) for v in lists["vms"]]
                  + [classic_vm(v, sub.subscription_id) for v in lists["classic"]]),
        nics={n.nic_id.lower(): n for n in nics},
        subnet_nsgs={k: v for k, v in subnet_nsgs.items() if v},
        public_ips={p["id"].lower(): (p.get("properties") or {}).get("ipAddress", "") for p in lists["pips"]},
        firewalls=tuple(f for f in (firewall(x) for x in lists["firewalls"]) if f is not None),
        jit_plan_available=jit_available,
        policies=tuple(policy(p, sub.subscription_id) for p in lists["policies"]),
    )
