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
from core.leases import Busy, hold
from trail.chain import record

from .actions import group_of
from .inventory import VmRow, forget, get_inventory, invalidate
from .verdicts import MISSING, VmHealth

RESTORE, DELETE_RULE = "jit.restore", "nsg.rule.delete"


def health_words(health: VmHealth | None) -> dict[str, str]:
    """Port → its state and words, as the trail keeps them."""
    return {str(p.port): f"{p.label}: {p.detail}" for p in (health.ports if health else ())}


def az_delete(ref: RuleRef) -> str:
    return (f"az network nsg rule delete --subscription {ref.subscription_id} --resource-group {ref.resource_group} "
            f"--nsg-name {ref.nsg} --name {ref.name}")


def az_recreate_deny(row: VmRow, nsg_id: str, ports: list[int], priority: int = 4000) -> str:
    """The deny rule JIT keeps for this VM, as an `az` command: what to re-create when a restore did not."""
    parts = nsg_id.split("/")
    return (f"az network nsg rule create --subscription {parts[2]} --resource-group {parts[4]} --nsg-name {parts[-1]} "
            f"--name JIT-deny-{row.name} --priority {priority} --direction Inbound --access Deny --protocol '*' "
            f"--source-address-prefixes '*' --destination-address-prefixes {row.private_ip} "
            f"--destination-port-ranges {' '.join(str(p) for p in ports)}")


@dataclass(frozen=True)
class Restored:
    ok: bool
    message: str
    after: VmRow | None = None
    recreate: tuple[str, ...] = ()  # `az` commands for deny rules still missing


def restore(actor: Actor, row: VmRow) -> Restored:
    """Re-apply the VM's policy unchanged (under the group's lease, from what Azure holds now), then re-read."""
    if not row.policy_id:
        return Restored(False, f"{row.name} has no JIT policy to re-apply.")
    ref = gateway.parse_policy_id(row.policy_id)
    correlation_id = str(uuid.uuid4())
    before = health_words(row.health)
    try:
        with hold(group_of(row).key, getattr(actor.user, "upn", "") or "someone", settings.POLICY_LEASE_SECONDS,
                  settings.POLICY_LEASE_WAIT_SECONDS):
            policy = next((p for p in gateway.list_policies_at(actor.session, ref.subscription_id, ref.resource_group,
                                                               ref.location) if p.policy_id.lower() == row.policy_id.lower()),
                          None)
            if policy is None:
                return Restored(False, f"Azure no longer holds the JIT policy of {row.name}; nothing was changed.")
            gateway.put_policy(actor.session, ref, policy.vms, correlation_id)
    except Busy as busy:
        return Restored(False, f"{busy.holder_name} is changing this policy right now; try again in a moment.")
    except OutcomeUnknown as error:
        outcome, message = "unknown", f"{error.message} What Azure holds now is shown below."
    except GatewayError as error:
        record(actor, RESTORE, row.vm_id, "failed", details={"policy": row.policy_id, "before": before,
                                                               "error": error.message}, correlation_id=correlation_id)
        return Restored(False, error.message)
    else:
        outcome, message = "succeeded", ""
    invalidate(row.subscription_id)
    forget(actor.user_pk)
    after = get_inventory(actor.session, actor.user_pk, complete=True).row_of(row.vm_id)
    missing = [p.port for p in (after.health.ports if after and after.health else ()) if p.state == MISSING]
    nsgs = [nsg_id for _, nsg_id in (after.health.nsgs if after and after.health else ())]
    recreate = tuple(az_recreate_deny(after, nsg_id, missing) for nsg_id in nsgs[-1:]) if missing else ()
    record(actor, RESTORE, row.vm_id, outcome, details={
        "policy": row.policy_id, "before": before, "after": health_words(after.health if after else None),
        "deny_rule_back": not missing}, correlation_id=correlation_id)
    if missing:
        message = (message + " " if message else "") + (
            f"Azure did not write JIT's deny rule back for port(s) {', '.join(map(str, missing))}: re-create it.")
    else:
        message = (message + " " if message else "") + "JIT's deny rule is back on every port of the policy."
    return Restored(not missing and outcome == "succeeded", message, after, recreate)


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
        record(actor, DELETE_RULE, ref.rule_id, "unknown", details={**details, "error": error.message},
               correlation_id=correlation_id)
        invalidate(row.subscription_id)
        return Deleted(False, f"{error.message} Reload the VM's page to see whether the rule is gone.")
    except GatewayError as error:
        record(actor, DELETE_RULE, ref.rule_id, "failed", details={**details, "error": error.message},
               correlation_id=correlation_id)
        return Deleted(False, error.message)
    record(actor, DELETE_RULE, ref.rule_id, "succeeded", details=details, correlation_id=correlation_id)
    invalidate(row.subscription_id)
    forget(actor.user_pk)
    return Deleted(True, f"Deleted rule {ref.name} from {ref.nsg}.")
