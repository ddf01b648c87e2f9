"""Fixing what the health check finds: restore JIT's rules by re-applying the policy, or delete a rule that
bypasses it. Both act as the admin in Azure, re-read what Azure holds after, and leave a trail event.

Restore relies on what Microsoft documents: a policy write makes Defender for Cloud ensure JIT's "deny all
inbound traffic" rules exist for the selected ports. Whether it really writes them again is read back, never
assumed: where the deny rule is still missing, the exact rule to re-create is shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings

from core import gateway
from core.actor import Actor
from core.gateway import GatewayError, OutcomeUnknown, RuleRef
from core.gateway.types import SecurityGroup
from core.leases import Busy, hold
from trail.chain import record

from .actions import group_of
from .inventory import VmRow, forget, get_inventory, invalidate
from .verdicts import BYPASSED, JIT_PREFIX, MISSING, VmHealth

RESTORE, DELETE_RULE = "jit.restore", "nsg.rule.delete"
JIT_DENY = JIT_PREFIX + "_"  # Defender for Cloud's deny rules: SecurityCenter-JITRule_…; its allow rules: …-


def health_words(health: VmHealth | None) -> dict[str, str]:
    """Port → its state and words, as the trail keeps them."""
    return {str(p.port): f"{p.label}: {p.detail}" for p in (health.ports if health else ())}


def az_delete(ref: RuleRef) -> str:
    return (
        f"az network nsg rule delete --subscription {ref.subscription_id} --resource-group {ref.resource_group} "
        f"--nsg-name {ref.nsg} --name {ref.name}"
    )


@dataclass(frozen=True)
class DenyRule:
    """JIT's deny rule for one VM, as a person re-creates it where Azure did not write it back: inbound, deny, any
    protocol, from any source to the VM's private IP, on the policy's ports, after every rule already in the NSG
    (where Defender for Cloud puts its own). Its name carries JIT's prefix, so that the health check (which tells
    JIT's rules by name) counts it as JIT's deny rule."""

    ref: RuleRef  # the NSG and the rule's name
    priority: int
    ports: tuple[int, ...]
    destination: str  # the VM's private IP
    direction: str = "Inbound"
    access: str = "Deny"
    protocol: str = "*"
    source: str = "*"

    @property
    def words(self) -> str:
        return (
            f"{self.ref.name}: {self.direction}, {self.access}, priority {self.priority}, protocol Any, "
            f"port{'s' if len(self.ports) > 1 else ''} {', '.join(map(str, self.ports))}, from Any (*) to "
            f"{self.destination}, on NSG {self.ref.nsg} (resource group {self.ref.resource_group})"
        )

    @property
    def command(self) -> str:
        return (
            f"az network nsg rule create --subscription {self.ref.subscription_id} --resource-group "
            f"{self.ref.resource_group} --nsg-name {self.ref.nsg} --name {self.ref.name} --priority {self.priority} "
            f"--direction {self.direction} --access {self.access} --protocol '{self.protocol}' "
            f"--source-address-prefixes '{self.source}' --source-port-ranges '*' "
            f"--destination-address-prefixes {self.destination} "
            f"--destination-port-ranges {' '.join(str(p) for p in self.ports)}"
        )


FIRST_DENY = 3097  # where Defender for Cloud's deny rules start when the NSG holds nothing later (the sandbox's)


def deny_rule(row: VmRow, nsg_id: str, ports: list[int], group: SecurityGroup | None) -> DenyRule:
    """The deny rule to re-create on the NSG `nsg_id`: after every rule there but JIT's own deny rules, on the first
    number no inbound rule holds (`group`, the NSG as Azure lists it now; None: not read, the first such number)."""
    taken = {r.priority for r in (group.rules if group else ()) if not r.default}
    later = [r.priority for r in (group.rules if group else ()) if not r.default and not r.name.startswith(JIT_DENY)]
    priority = next(
        (p for p in range(max([FIRST_DENY - 1, *later]) + 1, 4097) if p not in taken),
        next((p for p in range(4096, 99, -1) if p not in taken), 4096),
    )
    ref = gateway.parse_rule_id(f"{nsg_id}/securityRules/{JIT_DENY}portal_{row.name}"[: len(nsg_id) + 95])
    return DenyRule(ref, priority, tuple(sorted(ports)), row.private_ip)


def deny_rule_now(session, row: VmRow, ports: list[int]) -> DenyRule | None:
    """The deny rule to re-create for these ports, with a number free in the NSG as Azure holds it now (one read;
    the rule with the first free number after JIT's when the NSG cannot be read)."""
    if not ports or not row.health or not row.health.nsgs:
        return None
    nsg_id = row.health.nsgs[-1][1]  # the NIC's when it has one: the rule then filters this VM only
    try:
        group = gateway.read_security_group(session, gateway.parse_rule_id(f"{nsg_id}/securityRules/x"))
    except GatewayError:
        group = None
    return deny_rule(row, nsg_id, ports, group)


@dataclass(frozen=True)
class Restored:
    ok: bool
    message: str
    after: VmRow | None = None
    recreate: DenyRule | None = None  # JIT's deny rule, where Azure did not write it back
    still_open: tuple[str, ...] = ()  # ports the deny rule is back on but another rule still lets in, in words


def restore(actor: Actor, row: VmRow) -> Restored:
    """Re-apply the VM's policy unchanged (under the group's lease, from what Azure holds now), then re-read."""
    if not row.policy_id:
        return Restored(False, f"{row.name} has no JIT policy to re-apply.")
    ref = gateway.parse_policy_id(row.policy_id)
    correlation_id = str(uuid.uuid4())
    before = health_words(row.health)
    try:
        with hold(
            group_of(row).key,
            getattr(actor.user, "upn", "") or "someone",
            settings.POLICY_LEASE_SECONDS,
            settings.POLICY_LEASE_WAIT_SECONDS,
        ):
            policy = next(
                (
                    p
                    for p in gateway.list_policies_at(
                        actor.session, ref.subscription_id, ref.resource_group, ref.location
                    )
                    if p.policy_id.lower() == row.policy_id.lower()
                ),
                None,
            )
            if policy is None:
                return Restored(False, f"Azure no longer holds the JIT policy of {row.name}; nothing was changed.")
            gateway.put_policy(actor.session, ref, policy.vms, correlation_id)
    except Busy as busy:
        return Restored(False, f"{busy.holder_name} is changing this policy right now; try again in a moment.")
    except OutcomeUnknown as error:
        outcome, message = "unknown", f"{error.message} What Azure holds now is shown below."
    except GatewayError as error:
        record(
            actor,
            RESTORE,
            row.vm_id,
            "failed",
            details={"policy": row.policy_id, "before": before, "error": error.message},
            correlation_id=correlation_id,
        )
        return Restored(False, error.message)
    else:
        outcome, message = "succeeded", ""
    invalidate(row.subscription_id)
    forget(actor.user_pk)
    after = get_inventory(actor.session, actor.user_pk, complete=True).row_of(row.vm_id)
    ports = after.health.ports if after and after.health else ()
    missing = [p.port for p in ports if p.state == MISSING]
    still_open = tuple(f"port {p.port}: {p.detail}" for p in ports if p.state == BYPASSED)
    recreate = deny_rule_now(actor.session, after, missing) if missing else None
    record(
        actor,
        RESTORE,
        row.vm_id,
        outcome,
        details={
            "policy": row.policy_id,
            "before": before,
            "after": health_words(after.health if after else None),
            "deny_rule_back": not missing,
            **({"recreate": recreate.words} if recreate else {}),
        },
        correlation_id=correlation_id,
    )
    if missing:
        message = (message + " " if message else "") + (
            f"Azure did not write JIT's deny rule back for port{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(str, missing))}: re-create it as shown below."
        )
    else:
        message = (message + " " if message else "") + "JIT's deny rule is back on every port of the policy."
    if still_open:
        message += " Another rule still lets traffic in before it: delete or narrow it."
    return Restored(not missing and not still_open and outcome == "succeeded", message, after, recreate, still_open)


@dataclass(frozen=True)
class Deleted:
    ok: bool
    message: str


def delete_rule(actor: Actor, row: VmRow, ref: RuleRef) -> Deleted:
    """Delete one NSG rule (a bypass) as the admin; the trail keeps the rule whole, as Azure held it."""
    correlation_id = str(uuid.uuid4())
    try:
        rule = gateway.read_security_rule(actor.session, ref)
    except GatewayError as error:
        return Deleted(False, error.message)
    details = {"vm": row.vm_id, "rule": rule, "before": health_words(row.health)}
    try:
        gateway.delete_security_rule(actor.session, ref, correlation_id)
    except OutcomeUnknown as error:
        record(
            actor,
            DELETE_RULE,
            ref.rule_id,
            "unknown",
            details={**details, "error": error.message},
            correlation_id=correlation_id,
        )
        invalidate(row.subscription_id)
        return Deleted(False, f"{error.message} Reload the VM's page to see whether the rule is gone.")
    except GatewayError as error:
        record(
            actor,
            DELETE_RULE,
            ref.rule_id,
            "failed",
            details={**details, "error": error.message},
            correlation_id=correlation_id,
        )
        return Deleted(False, error.message)
    record(actor, DELETE_RULE, ref.rule_id, "succeeded", details=details, correlation_id=correlation_id)
    invalidate(row.subscription_id)
    forget(actor.user_pk)
    return Deleted(True, f"Deleted rule {ref.name} from {ref.nsg}.")
