"""A JIT policy's VMs and ports as data: what the edit form carries (to notice a concurrent change), what the
trail keeps as before/after and what the archive keeps as a configuration. Compared as data; words are made
from them only for people (`describe_ports`, `changes`), so changing a word never changes what counts as a
change."""

from __future__ import annotations

from typing import Any

import isodate

from core.durations import human
from core.gateway import JitPolicy, PortRule

PortData = dict[str, Any]  # {"port": 22, "protocol": "*", "sources": ["*"], "max": "PT3H"}
VmSnapshot = dict[str, Any]  # {"policy": "default", "ports": [PortData, ...]}


def port_data(ports: tuple[PortRule, ...]) -> list[PortData]:
    """A VM's ports as plain data (JSON), in port order."""
    return [
        {
            "port": p.number,
            "protocol": p.protocol,
            "sources": list(p.allowed_prefixes),
            "max": isodate.duration_isoformat(p.max_duration),
        }
        for p in sorted(ports, key=lambda p: p.number)
    ]


def rules_of(data: list[PortData]) -> tuple[PortRule, ...]:
    return tuple(
        PortRule(d["port"], d["protocol"], tuple(d["sources"]), isodate.parse_duration(d["max"])) for d in data
    )


def snapshot(policies: list[JitPolicy]) -> dict[str, VmSnapshot]:
    """What the group's policies say, VM by VM (id in lower case): the basis for noticing a concurrent change."""
    return {vm.vm_id.lower(): {"policy": p.name, "ports": port_data(vm.ports)} for p in policies for vm in p.vms}


def describe_ports(ports: tuple[PortRule, ...]) -> str:
    """A VM's ports in words ("22/Any from per request up to 3 h; 3389/TCP from 10.0.0.0/8, 10.1.0.0/16 up to
    1 h"), for people only."""

    def one(p: PortRule) -> str:
        sources = "per request" if p.allowed_prefixes == ("*",) else ", ".join(p.allowed_prefixes)
        return f"{p.number}/{'Any' if p.protocol == '*' else p.protocol} from {sources} up to {human(p.max_duration)}"

    return "; ".join(one(p) for p in sorted(ports, key=lambda p: p.number))


def _by_port(data: list[PortData]) -> dict[int, PortData]:
    return {d["port"]: d for d in data}


def _vm_changes(name: str, before: list[PortData], after: list[PortData]) -> list[str]:
    was, now = _by_port(before), _by_port(after)

    def words(number: int) -> str:
        return describe_ports(rules_of([now[number]]))

    lines = [f"Someone added port {n} to {name} ({words(n)})" for n in sorted(set(now) - set(was))]
    lines += [f"Someone removed port {n} from {name}" for n in sorted(set(was) - set(now))]
    lines += [
        f"Someone changed port {n} on {name}: now {words(n)}" for n in sorted(set(was) & set(now)) if was[n] != now[n]
    ]
    return lines


def changes(before: dict[str, VmSnapshot], after: dict[str, VmSnapshot]) -> list[str]:
    """What differs between two snapshots, in plain words, one sentence per change."""
    lines = []
    for vm in sorted(set(before) | set(after)):
        name = vm.rsplit("/", 1)[-1]
        if vm not in after:
            lines.append(f"Someone removed JIT from {name}")
        elif vm not in before:
            lines.append(f"Someone enabled JIT on {name} ({describe_ports(rules_of(after[vm]['ports']))})")
        elif before[vm] != after[vm]:
            lines += _vm_changes(name, before[vm]["ports"], after[vm]["ports"])
    return lines


def keep_mine(opened: VmSnapshot | None, mine: tuple[PortRule, ...], now: tuple[PortRule, ...]) -> tuple[PortRule, ...]:
    """Azure's ports now, with the person's own changes (against what their form showed) applied wherever
    nobody else changed that port meanwhile: a three-way merge, port by port, of data."""
    was = _by_port(opened["ports"]) if opened else {}
    wanted, theirs = {r.number: r for r in mine}, {r.number: r for r in now}
    merged = dict(theirs)
    for number in set(was) | set(wanted):
        mine_changed = _data(wanted.get(number)) != was.get(number)
        if mine_changed and _data(theirs.get(number)) == was.get(number):
            merged.pop(number, None)
            if number in wanted:
                merged[number] = wanted[number]
    return tuple(merged[n] for n in sorted(merged))


def _data(rule: PortRule | None) -> PortData | None:
    return port_data((rule,))[0] if rule else None
