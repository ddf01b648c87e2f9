"""Enabling, editing and removing JIT: read-modify-write of Azure's per-group `default` policies.

Azure keeps one policy per resource group and region holding many VMs, and PUT replaces it whole.
So every change here: takes the portal's lease for that group (never a database lock across Azure
calls), re-reads the group's policies, refuses if they differ from what the person was shown (the
form's snapshot; for enable, a VM that gained JIT meanwhile), changes only the VMs at hand, and puts
(or deletes) each affected policy once. A lost answer is read back, not guessed. Each write is an
AuditEvent with before and after.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from core import gateway
from core.actor import Actor
from core.gateway import JitPolicy, PolicyRef, PolicyVm, PortRule
from core.leases import Busy, Held, hold
from trail.chain import record

from . import settle
from .inventory import CONFIGURED, VmRow, invalidate
from .snapshots import PortData, VmSnapshot, changes, describe_ports, port_data, rules_of, snapshot

ENABLE, EDIT, REMOVE = "jit.enable", "jit.edit", "jit.remove"
DEFAULT_POLICY = "default"
MAX_NAME = 56
RECOMMENDED_PORTS = tuple(PortRule(n, "*", ("*",), timedelta(hours=3)) for n in (22, 3389, 5985, 5986))
# Which of them each OS is reached by (SSH on Linux; RDP and WinRM on Windows), as the request form picks its first port.
OS_PORTS = {"linux": (22,), "windows": (3389, 5985, 5986)}


def recommended_for(rows: list[VmRow]) -> tuple[PortRule, ...]:
    """The recommended ports the Enable form starts with: those of the chosen VMs' OSes (all four for a VM whose
    OS Azure does not say)."""
    numbers = {n for row in rows for n in OS_PORTS.get(row.os_type.lower(), tuple(p.number for p in RECOMMENDED_PORTS))}
    return tuple(p for p in RECOMMENDED_PORTS if p.number in numbers) or RECOMMENDED_PORTS


@dataclass(frozen=True)
class Group:
    subscription_id: str
    resource_group: str
    location: str

    @property
    def key(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/locations/{self.location}".lower()

    def default_ref(self) -> PolicyRef:
        return PolicyRef(self.subscription_id, self.resource_group, self.location, DEFAULT_POLICY)


@dataclass(frozen=True)
class Outcome:
    vm_name: str
    ok: bool
    message: str
    stale: bool = False  # refused because the policies changed since the form was shown: offer it again


def group_of(row: VmRow) -> Group:
    return Group(row.subscription_id.lower(), row.resource_group, row.location.lower())


def open_snapshots(actor: Actor, rows: list[VmRow]) -> dict[str, dict[str, VmSnapshot]]:
    """Read each group's policies now (one call per group) for the form to carry."""
    groups = {group_of(r) for r in rows}
    return {
        g.key: snapshot(gateway.list_policies_at(actor.session, g.subscription_id, g.resource_group, g.location))
        for g in groups
    }


TOO_LONG = "the policy name 'default' and this VM's name together exceed Azure's 56 characters"


def name_too_long(row: VmRow) -> bool:
    return len(DEFAULT_POLICY) + len(row.name) > MAX_NAME


def eligible(rows: list[VmRow], tab: str) -> tuple[list[VmRow], list[Outcome]]:
    """The rows an action for `tab` may change (enable: Not configured; edit, remove: Configured), and
    an outcome saying why each other row was left out."""
    ok, refused = [], []
    for row in rows:
        if row.tab != tab:
            why = row.reason or ("it already has JIT: use Edit" if row.tab == CONFIGURED else "it has no JIT yet")
            refused.append(Outcome(row.name, False, f"Left out: {why}."))
        elif name_too_long(row):
            refused.append(Outcome(row.name, False, f"Left out: {TOO_LONG}."))
        else:
            ok.append(row)
    return ok, refused


def do_set_ports(
    actor: Actor,
    action: str,
    rows: list[VmRow],
    ports: dict[str, tuple[PortRule, ...] | None],
    opened: dict[str, dict[str, VmSnapshot]] | None,
) -> list[Outcome]:
    """Give each VM in `rows` the ports in `ports[vm_id.lower()]` (None removes it from JIT).

    `action` names what the person did, for the audit trail: ENABLE, EDIT or REMOVE.
    `opened` holds the snapshots taken when the form was shown; None means "take them now" (the
    one-click path, where the person saw no form)."""
    outcomes: list[Outcome] = []
    by_group: dict[Group, list[VmRow]] = {}
    for row in rows:
        by_group.setdefault(group_of(row), []).append(row)
    for group, members in by_group.items():
        outcomes += _apply_to_group(actor, action, group, members, ports, (opened or {}).get(group.key))
    return outcomes


def _apply_to_group(
    actor: Actor,
    action: str,
    group: Group,
    members: list[VmRow],
    ports: dict[str, tuple[PortRule, ...] | None],
    opened: dict[str, VmSnapshot] | None,
) -> list[Outcome]:
    who = getattr(actor.user, "upn", "") or "someone"
    settle.settle_group(group.key, actor.session, who)  # an earlier change that may land late is read back first
    try:
        with hold(
            group.key,
            who,
            settings.POLICY_LEASE_SECONDS,
            settings.POLICY_LEASE_WAIT_SECONDS,
            waiting=lambda: settle.settle_group(group.key, actor.session, who),
        ) as lease:
            outcomes = _change_group(actor, action, group, members, ports, opened, lease)
    except Busy as busy:
        return [Outcome(m.name, False, _busy(group, busy)) for m in members]
    invalidate(group.subscription_id)
    return outcomes


def _busy(group: Group, busy: Busy) -> str:
    place = f"the JIT policy of {group.resource_group} in {group.location}"
    unsettled = settle.pending(group.key)
    if unsettled is None:
        return f"Not saved: {busy.holder_name} is saving a change to {place} right now. Try again in a moment."
    return (
        f"Not saved: Azure has not told whether {unsettled.user_name}'s change to {place} "
        f"(at {unsettled.started:%H:%M:%S} UTC) was applied, and it may still land. The portal holds other "
        f"changes to it until a read shows what Azure did, at most until {unsettled.settle_by:%H:%M:%S} UTC: "
        "try again then."
    )


def _change_group(
    actor: Actor,
    action: str,
    group: Group,
    members: list[VmRow],
    ports: dict[str, tuple[PortRule, ...] | None],
    opened: dict[str, VmSnapshot] | None,
    lease: Held,
) -> list[Outcome]:
    """Read Azure's policies now, check them against what the person was shown, then write."""
    try:
        current = gateway.list_policies_at(actor.session, group.subscription_id, group.resource_group, group.location)
    except gateway.GatewayError as error:
        record(
            actor,
            action,
            group.key,
            "failed",
            correlation_id=error.correlation_id,
            details={"step": "reading the policies before the change", "error": error.message},
        )
        return [Outcome(m.name, False, error.message) for m in members]
    now = snapshot(current)
    if opened is not None and now != opened:
        message = (
            "Nothing was saved: the JIT policy of this resource group and region changed since you "
            f"opened the form. {'. '.join(changes(opened, now))}. Review it and save again."
        )
        return [Outcome(m.name, False, message, stale=True) for m in members]
    refused = []
    if action == ENABLE:  # the person saw these VMs without JIT: one that gained it meanwhile is not overwritten
        refused = [
            Outcome(
                m.name,
                False,
                f"Not enabled: it was configured in Azure since you loaded the list "
                f"({_words(now[m.vm_id.lower()])}). Use Edit.",
            )
            for m in members
            if m.vm_id.lower() in now
        ]
        members = [m for m in members if m.vm_id.lower() not in now]
    return refused + [
        o
        for policy, wanted in plan(group, current, members, ports)
        for o in _write(actor, action, group, policy, wanted, members, lease)
    ]


def plan(
    group: Group, current: list[JitPolicy], members: list[VmRow], ports: dict[str, tuple[PortRule, ...] | None]
) -> list[tuple[JitPolicy | None, tuple[PolicyVm, ...]]]:
    """For each policy to write: its VMs afterwards. A VM stays in the policy that already holds it;
    a VM in none goes to the group's `default` policy (made when missing)."""
    policies: dict[str, tuple[JitPolicy | None, list[PolicyVm]]] = {
        p.policy_id.lower(): (p, list(p.vms)) for p in current
    }
    home = {vm.vm_id.lower(): p.policy_id.lower() for p in current for vm in p.vms}
    default = next(
        (p.policy_id.lower() for p in current if p.name.lower() == DEFAULT_POLICY),
        group.default_ref().policy_id.lower(),
    )
    policies.setdefault(default, (None, []))
    changed = set()
    for row in members:
        key = home.get(row.vm_id.lower(), default)
        changed.add(key)
        vms = [vm for vm in policies[key][1] if vm.vm_id.lower() != row.vm_id.lower()]
        if ports[row.vm_id.lower()] is not None:
            vms.append(PolicyVm(row.vm_id, ports[row.vm_id.lower()]))
        policies[key] = (policies[key][0], vms)
    return [(policies[key][0], tuple(policies[key][1])) for key in sorted(changed)]


def _write(
    actor: Actor,
    action: str,
    group: Group,
    policy: JitPolicy | None,
    vms: tuple[PolicyVm, ...],
    members: list[VmRow],
    lease: Held,
) -> list[Outcome]:
    ref = gateway.parse_policy_id(policy.policy_id) if policy else group.default_ref()
    mine = [
        m
        for m in members
        if any(v.vm_id.lower() == m.vm_id.lower() for v in vms)
        or (policy and any(v.vm_id.lower() == m.vm_id.lower() for v in policy.vms))
    ]
    change = {
        "before": {vm.vm_id.lower(): port_data(vm.ports) for vm in (policy.vms if policy else ())},
        "after": {vm.vm_id.lower(): port_data(vm.ports) for vm in vms},
    }
    correlation = str(uuid.uuid4())
    try:
        if vms:
            gateway.put_policy(actor.session, ref, vms, correlation)
        elif policy is not None:
            gateway.delete_policy(actor.session, ref, correlation)
    except gateway.OutcomeUnknown as lost:
        return _read_back(actor, action, ref, change, mine, correlation, lost.message, lease)
    except gateway.GatewayError as error:
        record(
            actor,
            action,
            ref.policy_id,
            "failed",
            correlation_id=error.correlation_id,
            details={**change, "error": error.message},
        )
        return [Outcome(m.name, False, error.message) for m in mine]
    record(actor, action, ref.policy_id, "succeeded", correlation_id=correlation, details=change)
    return [Outcome(m.name, True, _done(m, change["after"])) for m in mine]


def _read_back(
    actor: Actor, action: str, ref: PolicyRef, change: dict, mine: list[VmRow], correlation: str, why: str, lease: Held
) -> list[Outcome]:
    """The answer to a change was lost, so Azure may or may not have applied it: read the policy and say
    what it holds, rather than guess. Not seen applied, it may still land: the lease stays held until a later
    read settles it (vms/settle.py), so that no change saved meanwhile can be undone by it."""
    try:
        holds = settle.holdings(
            gateway.list_policies_at(actor.session, ref.subscription_id, ref.resource_group, ref.location),
            ref.policy_id,
        )
    except gateway.GatewayError as error:
        holds, why = None, f"{why} Reading it back failed: {error.message}"
    if holds is not None and all(holds.get(m.vm_id.lower()) == change["after"].get(m.vm_id.lower()) for m in mine):
        record(
            actor,
            action,
            ref.policy_id,
            "succeeded",
            correlation_id=correlation,
            details={**change, "resolved": f"{why} The portal read the policy back."},
        )
        return [Outcome(m.name, True, f"{why} The portal checked: {_done(m, change['after'])}") for m in mine]
    kept = settle.keep(actor, action, ref, lease.name, change, correlation, lease, why)
    record(
        actor,
        action,
        ref.policy_id,
        "unknown",
        correlation_id=correlation,
        details={
            **change,
            "resolved": f"{why} Not applied when read back; the portal holds the policy and reads it again "
            f"until {kept.settle_by.isoformat()}.",
        },
    )
    seen = "could not check whether it was applied" if holds is None else "found it not applied so far"
    return [
        Outcome(
            m.name,
            False,
            f"{why} The portal {seen}; Azure may still apply it. It holds other changes to "
            f"this policy until it knows (at most until {kept.settle_by:%H:%M:%S} UTC) and the "
            "VM's page will say what Azure did.",
        )
        for m in mine
    ]


def _done(row: VmRow, after: dict[str, list[PortData]]) -> str:
    ports = after.get(row.vm_id.lower())
    return (
        f"JIT protects {describe_ports(rules_of(ports))}."
        if ports
        else "JIT removed. Access that is open now stays open until it expires."
    )


def _words(vm: VmSnapshot) -> str:
    return f"{vm['policy']}: {describe_ports(rules_of(vm['ports']))}"


def snapshot_ports(actor: Actor, row: VmRow) -> tuple[dict[str, dict[str, VmSnapshot]], tuple[PortRule, ...]]:
    """The group's snapshot for the form, and the VM's ports as Azure has them now."""
    group = group_of(row)
    policies = gateway.list_policies_at(actor.session, group.subscription_id, group.resource_group, group.location)
    ports = next((vm.ports for p in policies for vm in p.vms if vm.vm_id.lower() == row.vm_id.lower()), row.ports)
    return {group.key: snapshot(policies)}, ports
