"""A VM's JIT ports in the words the trail, the snapshots and the archive share."""

from __future__ import annotations

from core.durations import human
from core.gateway import JitPolicy, PortRule


def describe_ports(ports: tuple[PortRule, ...]) -> str:
    def one(p: PortRule) -> str:
        sources = "per request" if p.allowed_prefixes == ("*",) else "+".join(p.allowed_prefixes)
        return f"{p.number}/{'Any' if p.protocol == '*' else p.protocol} from {sources} up to {human(p.max_duration)}"
    return "; ".join(one(p) for p in sorted(ports, key=lambda p: p.number))


def holdings(policies: list[JitPolicy], policy_id: str) -> dict[str, str]:
    """What one policy holds, VM id (lower case) → its ports in words; empty when the policy is gone."""
    return {vm.vm_id.lower(): describe_ports(vm.ports) for p in policies if p.policy_id.lower() == policy_id.lower()
            for vm in p.vms}
