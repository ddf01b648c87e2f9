"""A trail event's before/after as a reader wants it: per VM, what was enabled, removed or changed, in short
words ("enabled on dev-08: 22, 3389 (Any, ≤ 3 h)", "removed from web-02", "dev-01: port 22 max 3 h → 1 h").

The trail and the archived configurations hold a VM's ports as data (`vms.snapshots.port_data`). Events and
configurations written before that hold words ("22/Any from per request up to 3 h; 3389/TCP from 10.0.0.0/8 up
to 1 h"), sealed as they were written: those are read back as words rather than change what the chain covers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import isodate

from core.durations import human

_PORT = re.compile(r"^(\d+)/(\S+) from (.+) up to (.+)$")


@dataclass(frozen=True)
class _Rule:
    protocol: str
    sources: str  # "per request", or the allowed prefixes joined with +
    max: str  # "3 h"

    def terms(self) -> str:
        sources = "" if self.sources == "per request" else f", from {self.sources.replace('+', ', ')}"
        return f"{self.protocol}{sources}, ≤ {self.max}"


def _name(vm_id: str) -> str:
    return vm_id.rsplit("/", 1)[-1]


def _rules(ports: list[dict[str, Any]] | str) -> dict[int, _Rule] | None:
    """Port number → its rule, from data or from the older events' words; None when the words are not the
    portal's (then shown as they are)."""
    if isinstance(ports, list):
        return {
            p["port"]: _Rule(
                "Any" if p["protocol"] == "*" else p["protocol"],
                "per request" if p["sources"] == ["*"] else "+".join(p["sources"]),
                human(isodate.parse_duration(p["max"])),
            )
            for p in ports
        }
    rules = {}
    for part in filter(None, (p.strip() for p in ports.split(";"))):
        found = _PORT.match(part)
        if not found:
            return None
        rules[int(found[1])] = _Rule(found[2], found[3], found[4])
    return rules


def _ports(rules: dict[int, _Rule]) -> str:
    """ "22, 3389 (Any, ≤ 3 h)": ports with the same terms together, in port order."""
    groups: dict[str, list[int]] = {}
    for number in sorted(rules):
        groups.setdefault(rules[number].terms(), []).append(number)
    return "; ".join(f"{', '.join(map(str, numbers))} ({terms})" for terms, numbers in groups.items())


def _changed(before: dict[int, _Rule], after: dict[int, _Rule]) -> str:
    """ "port 22 max 3 h → 1 h, port 8443 added (TCP, ≤ 3 h), port 3389 removed"."""
    parts = []
    for number in sorted(before.keys() | after.keys()):
        old, new = before.get(number), after.get(number)
        if old is None:
            parts.append(f"port {number} added ({new.terms()})")
        elif new is None:
            parts.append(f"port {number} removed")
        elif old != new:
            what = [
                f"{label} {a} → {b}"
                for label, a, b in (
                    ("protocol", old.protocol, new.protocol),
                    ("from", old.sources, new.sources),
                    ("max", old.max, new.max),
                )
                if a != b
            ]
            parts.append(f"port {number} {', '.join(what)}")
    return ", ".join(parts)


def _line(vm: str, before: list | str | None, after: list | str | None) -> str | None:
    name = _name(vm)
    if before is None:
        rules = _rules(after or "")
        return f"enabled on {name}: {_ports(rules) if rules else after}"
    if after is None:
        return f"removed from {name}"
    if before == after:
        return None
    old, new = _rules(before), _rules(after)
    if old is None or new is None:
        return f"{name}: {before} → {after}"
    return f"{name}: {_changed(old, new)}" if old != new else None


def per_vm(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str]]:
    """(VM id, line) for each VM whose ports differ; VMs left as they were are not named."""
    lines = [(vm, _line(vm, before.get(vm), after.get(vm))) for vm in sorted(before.keys() | after.keys(), key=_name)]
    return [(vm, line) for vm, line in lines if line]


def difference(details: dict) -> list[str]:
    """The per-VM lines of a change; other details (an error, a reason) follow as "key: value" in words (never
    Python's repr: a list is its items, a mapping its "key value" pairs, an ARM id its name beside it)."""
    before, after = details.get("before"), details.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        lines = [line for _, line in per_vm(before, after)]
        rest = {k: v for k, v in details.items() if k not in ("before", "after")}
    else:
        lines, rest = [], details
    return lines + [f"{key.replace('_', ' ')}: {words(value)}" for key, value in rest.items()]


_ARM_ID = re.compile(r"/subscriptions/[^/\s]+/resourceGroups/[^/\s]+/providers/[^\s,;]+", re.IGNORECASE)


def words(value: object) -> str:
    """A detail's value as a reader wants it: ARM ids of VMs and policies named ("dev-02 (/subscriptions/…)")."""
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')} {words(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(words(v) for v in value) or "none"
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _ARM_ID.sub(lambda m: f"{m[0].rstrip('/').rsplit('/', 1)[-1]} ({m[0]})", str(value))


def details_json(details: dict) -> str:
    """A trail event's details for a file: JSON (what tools parse), keys in a stable order."""
    return json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
