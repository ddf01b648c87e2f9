"""Whether JIT really protects each port of a VM: the states the portal shows, judged from `reach`.

Pure code (no Django, no SDK). Worst first, per VM the worst of its ports:
- Bypassed: an allow rule that is not JIT's lets the port in before JIT's deny rule;
- Deny rule missing: the policy lists the port but no JIT deny rule covers it;
- Exposed, no JIT: a VM without JIT whose management port the Internet reaches;
- Left-over allow: a JIT allow rule whose request Azure has ended;
- Unknown: the NSGs could not be read or judged (why is said);
- Open now by JIT: a request is open (who, until when);
- Protected: JIT's deny rule is in force and nothing before it lets traffic in;
- Closed: a VM without JIT that the Internet does not reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from core.gateway.types import NicFacts, SecurityGroup, SecurityRule, SubscriptionFleet

from .reach import (
    LOAD_BALANCER,
    Compiled,
    Intervals,
    Level,
    Network,
    Passage,
    Target,
    cidr,
    compiled,
    intersect,
    network_of,
    reaches_from,
    subtract,
)

BYPASSED, MISSING, EXPOSED, LEFTOVER, UNKNOWN, OPEN, PROTECTED, CLOSED = (
    "bypassed",
    "missing",
    "exposed",
    "leftover",
    "unknown",
    "open",
    "protected",
    "closed",
)
STATES = (
    (BYPASSED, "Bypassed"),
    (MISSING, "Deny rule missing"),
    (EXPOSED, "Exposed, no JIT"),
    (LEFTOVER, "Left-over allow"),
    (UNKNOWN, "Unknown"),
    (OPEN, "Open now by JIT"),
    (PROTECTED, "Protected"),
    (CLOSED, "Not exposed"),
)
LABELS = dict(STATES)
RANK = {state: i for i, (state, _) in enumerate(STATES)}
FINDINGS = frozenset({BYPASSED, MISSING, EXPOSED, LEFTOVER})  # what notifies admins and opens an exposure window
CRITICAL, HIGH, NARROW = "critical", "high", "narrow"
MANAGEMENT_PORTS = (22, 3389, 5985, 5986)  # what "Exposed, no JIT" looks at: the ports JIT recommends
JIT_PREFIX = "SecurityCenter-JITRule"
_LB = cidr(LOAD_BALANCER) or ()


def is_jit(rule: SecurityRule) -> bool:
    return rule.name.startswith(JIT_PREFIX)


@dataclass(frozen=True, slots=True)
class Culprit:
    """The rule a finding names, where it lives, and what it lets in."""

    rule: SecurityRule
    nsg_id: str
    nsg_name: str
    level: str  # "subnet" or "NIC"

    @property
    def source_text(self) -> str:
        if self.rule.source_asgs:
            return ", ".join(a.rsplit("/", 1)[-1] for a in self.rule.source_asgs)
        return ", ".join("Any" if s == "*" else s for s in self.rule.sources or ("*",))

    @property
    def words(self) -> str:
        return (
            f"{self.rule.name}, priority {self.rule.priority}, from {self.source_text}, "
            f"on {self.nsg_name} ({self.level})"
        )


@dataclass(frozen=True, slots=True)
class PortHealth:
    port: int
    state: str
    detail: str
    severity: str = ""
    culprit: Culprit | None = None
    who: str = ""
    until: datetime | None = None

    @property
    def label(self) -> str:
        return LABELS[self.state]


@dataclass(frozen=True, slots=True)
class VmHealth:
    state: str
    ports: tuple[PortHealth, ...]
    nsgs: tuple[tuple[str, str], ...] = ()  # (level, NSG id) that apply, subnet first

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def severity(self) -> str:
        found = {p.severity for p in self.ports if p.state == self.state and p.severity}
        return next((s for s in (CRITICAL, HIGH, NARROW) if s in found), "")

    def notices(self, vm_name: str) -> list[str]:
        """What a requester is told before asking for a port that is open already (the request form)."""
        found = []
        for port in self.ports:
            if port.state != BYPASSED or port.culprit is None:
                continue
            rule, whence = (
                port.culprit.rule,
                ("to the Internet" if port.severity == CRITICAL else f"from {port.culprit.source_text}"),
            )
            found.append(
                f"Port {port.port} of {vm_name} is already open {whence} by rule {rule.name} (priority "
                f"{rule.priority}, on {port.culprit.nsg_name}): JIT does not protect it."
            )
        return found

    @property
    def where(self) -> str:
        """The NSGs judged, e.g. "subnet: nsg-web; NIC: web-01-nsg"."""
        return "; ".join(f"{level}: {nsg_id.rsplit('/', 1)[-1]}" for level, nsg_id in self.nsgs) or "none"

    @property
    def summary(self) -> str:
        """The worst port's words, e.g. "22: allow-ssh, priority 300, from Internet, on nsg-web (NIC)"."""
        worst = next((p for p in self.ports if p.state == self.state), None)
        return f"{worst.port}: {worst.detail}" if worst else ""


def unknown(why: str, ports: tuple[int, ...], nsgs: tuple[tuple[str, str], ...] = ()) -> VmHealth:
    return VmHealth(UNKNOWN, tuple(PortHealth(p, UNKNOWN, why) for p in ports), nsgs)


def _size(sources: Intervals) -> int:
    return sum(hi - lo + 1 for lo, hi in sources)


def severity(sources: Intervals, network: Network, limit_v4: int, limit_v6: int) -> str:
    """By what the rule lets in: most of the Internet's IPv4 addresses (Any, Internet, 0.0.0.0/0 — less an
    address an earlier rule took) critical; more addresses than the portal lets a requester type
    (JIT_MAX_SOURCE_PREFIX_*) high; fewer narrow."""
    public_v4 = intersect(network.internet, ((0, (1 << 32) - 1),))
    if 2 * _size(intersect(sources, public_v4)) >= _size(public_v4):
        return CRITICAL
    v4 = intersect(sources, ((0, (1 << 32) - 1),))
    rest = subtract(sources, v4)
    if _size(v4) > 2 ** (32 - limit_v4) or _size(rest) > 2 ** (128 - limit_v6):
        return HIGH
    return NARROW


def _reaching(found: tuple[Passage, ...]) -> list[Passage]:
    """Passages that matter: the host's own probes (AzureLoadBalancer) reach every port by design."""
    return [p for p in found if subtract(p.sources, _LB)]


def _culprit(passage: Passage, groups: Mapping[str, SecurityGroup | None]) -> Culprit | None:
    """The rule to name for a passage: one that is neither Azure's default nor JIT's (the NIC's first)."""
    for level, rule in (("NIC", passage.nic_rule), ("subnet", passage.subnet_rule)):
        if rule is not None and not rule.default and not is_jit(rule):
            group = groups[level]
            return Culprit(rule, group.nsg_id if group else "", group.name if group else "", level)
    return None


def _jit_allow(passage: Passage, groups: Mapping[str, SecurityGroup | None]) -> Culprit | None:
    for level, rule in (("NIC", passage.nic_rule), ("subnet", passage.subnet_rule)):
        if rule is not None and is_jit(rule):
            group = groups[level]
            return Culprit(rule, group.nsg_id if group else "", group.name if group else "", level)
    return None


def _what_reaches(found: list[Passage], groups: Mapping[str, SecurityGroup | None], network: Network) -> str:
    for passage in found:
        culprit = _culprit(passage, groups)
        if culprit is not None:
            where = "the Internet" if intersect(passage.sources, network.internet) else culprit.source_text
            return f"open to {where} by {culprit.words}"
    if any(intersect(p.sources, network.vnet) for p in found):
        return "open to the virtual network (AllowVnetInBound)"
    if found:
        return "open to JIT's allow rule only"
    return "closed by the default DenyAllInBound, with nothing to keep it so"


@dataclass(frozen=True)
class Judge:
    """Judges the ports of VMs in one network: their NSGs (subnet's, NIC's), what tags stand for, the limits.
    VMs whose rules judge alike (the same NSGs, each with only its own JIT deny rule) share one verdict per port."""

    network: Network
    limit_v4: int = 24
    limit_v6: int = 64
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def _levels(
        self, subnet: Compiled | None, nic: Compiled | None, target: Target
    ) -> tuple[list[Level], tuple | None]:
        levels = [(g, g.candidates(target, self.network)) if g is not None else None for g in (subnet, nic)]
        shapes = [level[0].signature(level[1]) if level else () for level in levels]
        key = None if None in shapes else (id(subnet), id(nic), target.port, tuple(target.asgs), *shapes)
        return levels, key

    def _found(self, levels: list[Level]) -> tuple[list[Passage], Mapping[str, SecurityGroup | None]]:
        subnet, nic = levels
        return (
            _reaching(reaches_from(levels, self.network)),
            {"subnet": subnet[0].group if subnet else None, "NIC": nic[0].group if nic else None},
        )

    def _vm_key(
        self, subnet: Compiled | None, nic: Compiled | None, address: str, asgs: frozenset[str]
    ) -> tuple | None:
        found = cidr(address)
        number = found[0][0] if found else -1
        shapes = [g.own_shape(number) if g is not None else () for g in (subnet, nic)]
        return None if None in shapes else (id(subnet), id(nic), tuple(sorted(asgs)), *shapes)

    def configured(
        self,
        address: str,
        asgs: frozenset[str],
        ports: tuple[int, ...],
        subnet: SecurityGroup | Compiled | None,
        nic: SecurityGroup | Compiled | None,
        open_now: Mapping[int, tuple[str, datetime]],
    ) -> VmHealth:
        """A VM in a JIT policy: each policy port judged."""
        subnet, nic = compiled(subnet), compiled(nic)
        vm_key = self._vm_key(subnet, nic, address, asgs)
        vm_key = vm_key and ("vm", *vm_key, ports, tuple(sorted(open_now.items())))
        if vm_key and vm_key in self._memo:
            return self._memo[vm_key]
        judged = []
        for port in ports:
            levels, key = self._levels(subnet, nic, Target(address, asgs, port))
            key = key and ("configured", *key, open_now.get(port))
            made = self._memo.get(key) if key else None
            if made is None:
                denied = any(r.access == "Deny" and is_jit(r) for level in levels if level for _, r in level[1])
                made = self._configured_port(port, *self._found(levels), denied, open_now.get(port))
                if key:
                    self._memo[key] = made
            judged.append(made)
        health = _vm(judged, subnet, nic)
        if vm_key:
            self._memo[vm_key] = health
        return health

    def _configured_port(
        self,
        port: int,
        found: list[Passage],
        groups: Mapping[str, SecurityGroup | None],
        denied: bool,
        opened: tuple[str, datetime] | None,
    ) -> PortHealth:
        if not denied:
            return PortHealth(
                port, MISSING, f"no JIT deny rule covers port {port}; {_what_reaches(found, groups, self.network)}"
            )
        bypasses = [(p, c) for p in found if (c := _culprit(p, groups)) is not None]
        if bypasses:
            rated = [(severity(p.sources, self.network, self.limit_v4, self.limit_v6), c) for p, c in bypasses]
            level, culprit = min(rated, key=lambda sc: (CRITICAL, HIGH, NARROW).index(sc[0]))
            words = (
                culprit.words
                if level != NARROW
                else f"allowed from {culprit.source_text} by {culprit.rule.name}, priority {culprit.rule.priority}, "
                f"on {culprit.nsg_name} ({culprit.level})"
            )
            return PortHealth(port, BYPASSED, words, level, culprit)
        jit = [c for p in found if (c := _jit_allow(p, groups)) is not None]
        if jit and opened:
            who, until = opened
            return PortHealth(
                port,
                OPEN,
                f"open by JIT for {who} until {until:%Y-%m-%d %H:%M} UTC",
                culprit=jit[0],
                who=who,
                until=until,
            )
        if jit:
            return PortHealth(
                port,
                LEFTOVER,
                f"{jit[0].rule.name} still allows it after its request ended "
                f"(priority {jit[0].rule.priority}, from {jit[0].source_text}, "
                f"on {jit[0].nsg_name})",
                culprit=jit[0],
            )
        if found:  # JIT's deny rule is there but some sources pass it (e.g. a deny narrowed by hand)
            return PortHealth(
                port,
                BYPASSED,
                f"reaches the port past JIT's deny rule: {_what_reaches(found, groups, self.network)}",
                HIGH,
            )
        return PortHealth(port, PROTECTED, "JIT's deny rule is in force")

    def unconfigured(
        self,
        address: str,
        asgs: frozenset[str],
        subnet: SecurityGroup | Compiled | None,
        nic: SecurityGroup | Compiled | None,
    ) -> VmHealth:
        """A VM without JIT: are its management ports open to the Internet?"""
        subnet, nic = compiled(subnet), compiled(nic)
        vm_key = self._vm_key(subnet, nic, address, asgs)
        vm_key = vm_key and ("vm-unconfigured", *vm_key)
        if vm_key and vm_key in self._memo:
            return self._memo[vm_key]
        judged = []
        for port in MANAGEMENT_PORTS:
            levels, key = self._levels(subnet, nic, Target(address, asgs, port))
            key = key and ("unconfigured", *key)
            made = self._memo.get(key) if key else None
            if made is None:
                made = self._unconfigured_port(port, *self._found(levels))
                if key:
                    self._memo[key] = made
            judged.append(made)
        health = _vm(judged, subnet, nic)
        if vm_key:
            self._memo[vm_key] = health
        return health

    def _unconfigured_port(
        self, port: int, found: list[Passage], groups: Mapping[str, SecurityGroup | None]
    ) -> PortHealth:
        public = [(p, _culprit(p, groups)) for p in found if intersect(p.sources, self.network.internet)]
        if not public:
            return PortHealth(port, CLOSED, "not reachable from the Internet through its NSGs")
        passage, culprit = public[0]
        level = severity(passage.sources, self.network, self.limit_v4, self.limit_v6)
        words = culprit.words if culprit else "no NSG filters it"
        return PortHealth(port, EXPOSED, f"open to the Internet: {words}", level, culprit)


def _vm(judged: list[PortHealth], subnet: Compiled | None, nic: Compiled | None) -> VmHealth:
    state = min((p.state for p in judged), key=RANK.__getitem__) if judged else PROTECTED
    nsgs = tuple((level, g.group.nsg_id) for level, g in (("subnet", subnet), ("NIC", nic)) if g)
    return VmHealth(state, tuple(judged), nsgs)


class FleetJudge:
    """Judges the VMs of one subscription's fleet read: finds each VM's NSGs (subnet's and NIC's) in the one NSG
    list the read made, and what its virtual network's tags stand for. Says Unknown, and why, where it cannot."""

    def __init__(self, fleet: SubscriptionFleet, limit_v4: int = 24, limit_v6: int = 64) -> None:
        self.fleet = fleet
        self.limits = (limit_v4, limit_v6)
        members: dict[str, list[str]] = {}
        for nic in fleet.nics.values():
            for asg in nic.asg_ids:
                members.setdefault(asg.lower(), []).append(nic.private_ip)
        self._members = members
        self._judges: dict[str, Judge] = {}
        self._compiled: dict[str, Compiled] = {}
        self._places: dict[tuple[str, str], tuple[Compiled | None, Compiled | None, str, Judge | None]] = {}

    def _judge(self, vnet_id: str) -> Judge:
        found = self._judges.get(vnet_id)
        if found is None:
            network = network_of(self.fleet.vnet_prefixes.get(vnet_id, ()), self._members)
            found = self._judges[vnet_id] = Judge(network, *self.limits)
        return found

    def _groups(self, nic: NicFacts) -> tuple[Compiled | None, Compiled | None, str]:
        """(subnet's NSG, NIC's NSG, why they cannot be judged or "")."""
        subnet_id = self.fleet.subnet_nsgs.get(nic.subnet_id.lower(), "")
        if not subnet_id and not nic.nsg_id:
            return None, None, ""
        if self.fleet.nsgs is None:
            return None, None, f"Azure would not list the network security groups: {self.fleet.nsgs_error}"
        found = []
        for nsg_id in (subnet_id, nic.nsg_id):
            group = self.fleet.nsgs.get(nsg_id.lower()) if nsg_id else None
            if nsg_id and group is None:
                parts = nsg_id.split("/")
                return (
                    None,
                    None,
                    (
                        f"Azure did not show NSG {parts[-1]} in {parts[4] if len(parts) > 4 else '?'}: "
                        "reading it needs Microsoft.Network/networkSecurityGroups/read there"
                    ),
                )
            found.append(self._compile(group) if group else None)
        return found[0], found[1], ""

    def _compile(self, group: SecurityGroup) -> Compiled:
        key = group.nsg_id.lower()
        made = self._compiled.get(key)
        if made is None:
            made = self._compiled[key] = Compiled(group)
        return made

    def judge(
        self,
        nic: NicFacts | None,
        ports: tuple[int, ...] | None,
        firewall: str,
        open_now: Mapping[int, tuple[str, datetime]],
    ) -> VmHealth:
        """`ports`: the policy's for a VM in JIT, None for one without; `firewall`: the Azure Firewall it is behind."""
        checked = ports if ports is not None else MANAGEMENT_PORTS
        if nic is None:
            return unknown("the VM's network interface is not visible", checked)
        place = self._places.get((nic.subnet_id, nic.nsg_id))
        if place is None:  # NICs of one subnet share their NSGs and network: looked up once
            subnet, nic_group, why = self._groups(nic)
            judge = None if why else self._judge(nic.subnet_id.rsplit("/subnets/", 1)[0].lower())
            place = self._places[(nic.subnet_id, nic.nsg_id)] = (subnet, nic_group, why, judge)
        subnet, nic_group, why, judge = place
        if why:
            return unknown(why, checked)
        if subnet is None and nic_group is None and firewall:
            return unknown(
                f"JIT reaches it through Azure Firewall {firewall}, whose rules the portal does not judge", checked
            )
        asgs = frozenset(a.lower() for a in nic.asg_ids) if nic.asg_ids else frozenset()
        if ports is None:
            return judge.unconfigured(nic.private_ip, asgs, subnet, nic_group)
        return judge.configured(nic.private_ip, asgs, ports, subnet, nic_group, open_now)
