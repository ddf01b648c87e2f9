"""Which sources reach a VM's port through its network security groups, judged as Azure documents it.

Pure code: no Django, no SDK, no I/O; it reads the gateway's plain values. The rules and their sources are
written down in docs/architecture.md ("JIT you can verify"); in short:
- inbound traffic meets the subnet's NSG first, then the NIC's; it passes only when both allow it, and a
  missing NSG lets everything through at its level;
- within an NSG, rules run by priority (lower number first) and the first rule that matches decides;
- a rule matches on protocol (TCP, UDP or Any), destination port (`*`, one, a range, a list), destination
  (prefixes, service tags, application security groups of the NIC) after Azure has translated a public address
  to the private one; its source is prefixes, service tags or application security groups;
- the default rules (AllowVnetInBound 65000, AllowAzureLoadBalancerInBound 65001, DenyAllInBound 65500) are
  always there, listed or not.

Sources are sets of addresses, walked through the rules as one set: each rule takes what is left of its own
sources, so what it lets in is exactly what no earlier rule decided.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from core.gateway.types import SecurityGroup, SecurityRule

Intervals = tuple[tuple[int, int], ...]  # sorted, disjoint, inclusive
V6 = 1 << 32  # IPv6 addresses sit above IPv4's in one number line
TAGS = V6 + (1 << 128)  # then one block per service tag whose addresses the portal cannot list
TAG_BLOCK = 1 << 24
TOP = TAGS + 4096 * TAG_BLOCK - 1
ALL: Intervals = ((0, TOP),)
NOTHING: Intervals = ()
LOAD_BALANCER = "168.63.129.16"  # the host's virtual IP, which the AzureLoadBalancer tag stands for
# Not the Internet: private and shared ranges (RFC 1918, RFC 6598), loopback, link-local, the host's virtual IP.
NOT_INTERNET = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "168.63.129.16/32",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
)
ANY = frozenset({"*", "any", "0.0.0.0/0", "::/0"})
DEFAULT_RULES = (
    SecurityRule(
        "AllowVnetInBound",
        "",
        65000,
        "Allow",
        "*",
        ("VirtualNetwork",),
        (),
        ("VirtualNetwork",),
        (),
        ("*",),
        default=True,
    ),
    SecurityRule(
        "AllowAzureLoadBalancerInBound",
        "",
        65001,
        "Allow",
        "*",
        ("AzureLoadBalancer",),
        (),
        ("*",),
        (),
        ("*",),
        default=True,
    ),
    SecurityRule("DenyAllInBound", "", 65500, "Deny", "*", ("*",), (), ("*",), (), ("*",), default=True),
)
PROTOCOLS = ("TCP", "UDP")


# --- sets of addresses ------------------------------------------------------------------------------
def union(*sets: Intervals) -> Intervals:
    spans = sorted(span for s in sets for span in s)
    out: list[tuple[int, int]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def intersect(a: Intervals, b: Intervals) -> Intervals:
    if a == ALL:
        return b
    if b == ALL:
        return a
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract(a: Intervals, b: Intervals) -> Intervals:
    if not b or not a:
        return a
    if b == ALL:
        return NOTHING
    out: list[tuple[int, int]] = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1
        k, start = j, lo
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > start:
                out.append((start, b[k][0] - 1))
            start = max(start, b[k][1] + 1)
            k += 1
        if start <= hi:
            out.append((start, hi))
    return tuple(out)


@lru_cache(maxsize=65536)
def cidr(prefix: str) -> Intervals | None:
    """An address or CIDR as a set; None when it is neither (a service tag, or nonsense)."""
    try:
        net = ipaddress.ip_network(prefix.strip(), strict=False)
    except ValueError:
        return None
    base = 0 if net.version == 4 else V6
    return ((base + int(net.network_address), base + int(net.broadcast_address)),)


@lru_cache(maxsize=1024)
def _tag_block(tag: str) -> Intervals:
    # A service tag the portal cannot expand (AzureCloud, Storage.WestEurope…): Azure-owned public addresses, so a
    # part of the Internet, disjoint from every prefix a rule can write.
    start = TAGS + (_tag_block.cache_info().currsize % 4096) * TAG_BLOCK
    return ((start, start + TAG_BLOCK - 1),)


_PRIVATE = union(*(cidr(p) or () for p in NOT_INTERNET))


@dataclass(frozen=True)
class Network:
    """What the tags and groups of one virtual network stand for."""

    vnet: Intervals  # VirtualNetwork: the VNet's address space (peerings and on-premises are not seen)
    asg_members: Mapping[str, Intervals] = field(default_factory=dict)  # ASG id (lower) → its NICs' addresses

    @cached_property
    def internet(self) -> Intervals:
        return subtract(subtract(ALL, _PRIVATE), self.vnet)

    def prefix(self, text: str) -> Intervals:
        lowered = text.strip().lower()
        if lowered in ANY:
            return ALL if lowered in ("*", "any") else cidr(lowered) or NOTHING
        if lowered == "internet":
            return self.internet
        if lowered == "virtualnetwork":
            return self.vnet
        if lowered == "azureloadbalancer":
            return cidr(LOAD_BALANCER) or NOTHING
        found = cidr(text)
        return found if found is not None else _tag_block(lowered)


def network_of(prefixes: Iterable[str], asg_members: Mapping[str, Iterable[str]] | None = None) -> Network:
    return Network(
        union(*(cidr(p) or () for p in prefixes)),
        {asg: union(*(cidr(ip) or () for ip in ips)) for asg, ips in (asg_members or {}).items()},
    )


# --- one rule -----------------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def ports_of(values: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    out = []
    for value in values:
        text = value.strip()
        if text in ("*", "Any", ""):
            return ((0, 65535),)
        lo, _, hi = text.partition("-")
        try:
            out.append((int(lo), int(hi or lo)))
        except ValueError:
            continue
    return tuple(out)


def protocol_matches(rule_protocol: str, protocol: str) -> bool:
    """`*`/Any matches both; Tcp and Udp themselves; Icmp, Esp and Ah never a port's traffic."""
    return rule_protocol in ("*", "Any") or rule_protocol.upper() == protocol


@dataclass(frozen=True)
class Target:
    """The traffic asked about: to this private address (and its NIC's groups), this port and protocol."""

    address: str
    asgs: frozenset[str]  # lower-case ids
    port: int
    number: int = field(default=-1, compare=False)  # the address on the number line

    def __post_init__(self) -> None:
        found = cidr(self.address)
        object.__setattr__(self, "number", found[0][0] if found else -1)


def destination_matches(rule: SecurityRule, target: Target, network: Network) -> bool:
    if rule.destination_asgs:
        return any(a.lower() in target.asgs for a in rule.destination_asgs)
    address = target.number
    for text in rule.destinations or ("*",):
        lowered = text.strip().lower()
        if lowered in ("*", "any"):
            return True
        if lowered == "internet":  # a private address is never in it
            continue
        span = network.vnet if lowered == "virtualnetwork" else cidr(text)
        if span and any(lo <= address <= hi for lo, hi in span):
            return True
    return False


def port_matches(rule: SecurityRule, port: int) -> bool:
    return any(lo <= port <= hi for lo, hi in ports_of(rule.ports))


def sources_of(rule: SecurityRule, network: Network) -> Intervals:
    if rule.source_asgs:
        return union(*(network.asg_members.get(a.lower(), NOTHING) for a in rule.source_asgs))
    return union(*(network.prefix(p) for p in rule.sources or ("*",)))


# --- one NSG, then both -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """A rule that decided some of the sources (the first rule matching them)."""

    rule: SecurityRule
    sources: Intervals

    @property
    def allows(self) -> bool:
        return self.rule.access == "Allow"


def rules_in_order(group: SecurityGroup) -> tuple[SecurityRule, ...]:
    """The group's inbound rules by priority, with Azure's default rules when the listing left them out."""
    rules = group.rules
    if not any(r.default for r in rules):
        rules = (*rules, *DEFAULT_RULES)
    return tuple(sorted(rules, key=lambda r: r.priority))


def _single_address(rule: SecurityRule) -> int | None:
    """The one address a rule's destination names (as JIT's rules do), else None."""
    if rule.destination_asgs or len(rule.destinations) != 1:
        return None
    found = cidr(rule.destinations[0])
    return found[0][0] if found and found[0][0] == found[0][1] else None


def _anywhere(rule: SecurityRule) -> bool:
    """Whether the rule's destination holds every VM the NSG filters: `*`, or VirtualNetwork (a VM's private address
    is in its network's space)."""
    return not rule.destination_asgs and any(
        d.strip().lower() in ("*", "any", "virtualnetwork") for d in rule.destinations or ("*",)
    )


class Compiled:
    """An NSG's rules made ready to judge many VMs: each rule's ports read once; rules naming one destination address
    (JIT's, one per VM) found by that address, and rules for every destination by port, so a VM meets only its own
    and the general ones — a subnet NSG holds a deny rule per protected VM, and a walk through all of them per VM and
    port cost a 10,000-VM fleet tens of seconds."""

    def __init__(self, group: SecurityGroup) -> None:
        self.group = group
        self._free: list[tuple[int, SecurityRule]] = []  # for every destination
        self._bound: list[tuple[int, SecurityRule]] = []  # for some destinations (prefixes, tags, ASGs)
        self._by_address: dict[int, list[tuple[int, SecurityRule]]] = {}
        self._ports: dict[int, tuple[tuple[int, int], ...]] = {}
        self._own: set[int] = set()  # positions of rules naming one address
        for position, rule in enumerate(rules_in_order(group)):
            self._ports[position] = ports_of(rule.ports)
            address = _single_address(rule)
            if address is not None:
                self._by_address.setdefault(address, []).append((position, rule))
                self._own.add(position)
            else:
                (self._free if _anywhere(rule) else self._bound).append((position, rule))
        self._free_by_port: dict[int, list[tuple[int, SecurityRule]]] = {}
        self._free_positions = [i for i, _ in self._free]
        self._sources: dict[tuple[int, int], Intervals] = {}

    def _on(self, position: int, port: int) -> bool:
        return any(lo <= port <= hi for lo, hi in self._ports[position])

    def candidates(self, target: Target, network: Network) -> list[tuple[int, SecurityRule]]:
        """The rules that apply to this address and port (any source, any protocol), in priority order."""
        port = target.port
        free = self._free_by_port.get(port)
        if free is None:
            free = self._free_by_port[port] = [(i, r) for i, r in self._free if self._on(i, port)]
        more = [(i, r) for i, r in self._bound if self._on(i, port) and destination_matches(r, target, network)]
        more += [(i, r) for i, r in self._by_address.get(target.number, ()) if self._on(i, port)]
        return sorted(free + more) if more else free

    def signature(self, candidates: list[tuple[int, SecurityRule]]) -> tuple | None:
        """What makes two VMs' candidates judge alike: the shared rules by position, a VM's own JIT deny rule by what
        it does (its name and priority aside: it only ever decides "deny"); None when a VM has any other rule of its
        own, whose name a verdict would carry."""
        shape = []
        for position, rule in candidates:
            if position not in self._own:
                shape.append(position)
            elif rule.access == "Deny" and rule.name.startswith("SecurityCenter-JITRule"):
                shape.append(("deny", rule.protocol, rule.sources, rule.source_asgs))
            else:
                return None
        return tuple(shape)

    def own_shape(self, address: int) -> tuple | None:
        """What makes two VMs judge alike in this NSG, whatever the port: nothing here depends on the address but the
        VM's own JIT deny rules (by what they do and where they fall among the shared rules); None when a rule does
        (a prefix, a tag, an ASG as destination) or a VM has a rule of its own other than JIT's deny."""
        if self._bound:
            return None
        shape = []
        for position, rule in self._by_address.get(address, ()):
            if rule.access != "Deny" or not rule.name.startswith("SecurityCenter-JITRule"):
                return None
            before = bisect.bisect_left(self._free_positions, position)
            shape.append((before, rule.protocol, rule.sources, rule.source_asgs, self._ports[position]))
        return tuple(shape)

    def sources(self, position: int, rule: SecurityRule, network: Network) -> Intervals:
        key = (position, id(network))
        found = self._sources.get(key)
        if found is None:
            found = self._sources[key] = sources_of(rule, network)
        return found


def compiled(group: SecurityGroup | Compiled | None) -> Compiled | None:
    return group if group is None or isinstance(group, Compiled) else Compiled(group)


def walk(
    group: Compiled, candidates: list[tuple[int, SecurityRule]], protocol: str, network: Network
) -> tuple[Decision, ...]:
    """The rules that decide some source for this traffic, in order, each with what it decided: first match wins."""
    left, out = ALL, []
    for position, rule in candidates:
        if not protocol_matches(rule.protocol, protocol):
            continue
        taken = intersect(left, group.sources(position, rule, network))
        if taken:
            out.append(Decision(rule, taken))
            left = subtract(left, taken)
            if not left:
                break
    return tuple(out)


@dataclass(frozen=True)
class Passage:
    """Sources that reach the port, and the rule that let them through at each level (None: no NSG there)."""

    sources: Intervals
    subnet_rule: SecurityRule | None
    nic_rule: SecurityRule | None

    @property
    def rules(self) -> tuple[SecurityRule, ...]:
        return tuple(r for r in (self.subnet_rule, self.nic_rule) if r is not None)


def passages(subnet: tuple[Decision, ...] | None, nic: tuple[Decision, ...] | None) -> tuple[Passage, ...]:
    """What both levels let through: an allow of the subnet's NSG meeting an allow of the NIC's."""
    subnet_allows = [(d.sources, d.rule) for d in subnet if d.allows] if subnet is not None else [(ALL, None)]
    nic_allows = [(d.sources, d.rule) for d in nic if d.allows] if nic is not None else [(ALL, None)]
    out = []
    for outer, outer_rule in subnet_allows:
        for inner, inner_rule in nic_allows:
            both = intersect(outer, inner)
            if both:
                out.append(Passage(both, outer_rule, inner_rule))
    return tuple(out)


Level = tuple[Compiled, list[tuple[int, SecurityRule]]] | None  # an NSG and its candidate rules, or no NSG


def reaches(
    subnet: SecurityGroup | Compiled | None, nic: SecurityGroup | Compiled | None, target: Target, network: Network
) -> tuple[Passage, ...]:
    """Everything that reaches `target` over TCP or UDP, through both levels."""
    return reaches_from(
        [(g, g.candidates(target, network)) if g is not None else None for g in (compiled(subnet), compiled(nic))],
        network,
    )


def reaches_from(levels: list[Level], network: Network) -> tuple[Passage, ...]:
    """`reaches`, for each level's candidate rules already found."""
    # Rules for Any (nearly all) judge TCP and UDP alike: one walk then serves both.
    protocols = (
        PROTOCOLS
        if any(r.protocol not in ("*", "Any") for level in levels if level for _, r in level[1])
        else PROTOCOLS[:1]
    )
    found: list[Passage] = []
    for protocol in protocols:
        walks = [walk(level[0], level[1], protocol, network) if level else None for level in levels]
        for p in passages(*walks):
            if p not in found:
                found.append(p)
    return tuple(found)


def matching(group: SecurityGroup | Compiled, target: Target, network: Network) -> tuple[SecurityRule, ...]:
    """The group's rules that apply to this port and address (any source, TCP or UDP)."""
    return tuple(
        r
        for _, r in compiled(group).candidates(target, network)
        if any(protocol_matches(r.protocol, p) for p in PROTOCOLS)
    )
