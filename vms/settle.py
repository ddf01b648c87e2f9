"""Changes that may land late. A PUT or DELETE whose answer was lost, and that the read back did not show applied,
may still be applied by Azure afterwards (its latency is before it applies). Were the policy's lease released, a
later change could be saved and then silently undone by the earlier one landing. So the lease stays held, the
change is kept as an `UnsettledWrite`, and reads settle it: the next saver's (while it waits), an admin's view of
the VM's page, and the worker's every minute, until Azure holds the change ("applied late") or the grace
`POLICY_SETTLE_SECONDS` has passed ("not applied"). Each outcome is a trail event, `jit.settle`, with the change's
correlation id and before/after, so the archive explains Azure's event with it."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import gateway
from core.actor import PORTAL, Actor
from core.gateway import JitPolicy, PolicyRef
from core.leases import Held, release
from trail.chain import record

from .inventory import invalidate
from .models import UnsettledWrite
from .snapshots import PortData, port_data

logger = logging.getLogger(__name__)


def keep(
    actor: Actor, action: str, ref: PolicyRef, group_key: str, change: dict, correlation: str, lease: Held, why: str
) -> UnsettledWrite:
    """Hold the group's lease past the save, until the change settles or the grace passes."""
    name = getattr(actor.user, "upn", "") or "someone"
    now = timezone.now()
    write = UnsettledWrite.objects.create(
        group_key=group_key,
        policy_id=ref.policy_id,
        action=action,
        user=actor.user,
        user_name=name,
        session_key=getattr(actor.session, "session_key", None) or "",
        correlation_id=correlation,
        change=change,
        lease_token=lease.token,
        started=now,
        settle_by=now + timedelta(seconds=settings.POLICY_SETTLE_SECONDS),
        message=why,
    )
    lease.keep(write.settle_by, f"{name}'s change whose outcome Azure has not told yet")
    return write


def pending(group_key: str) -> UnsettledWrite | None:
    return UnsettledWrite.objects.filter(group_key=group_key, settled_at__isnull=True).first()


def lately(group_key: str, days: int = 7) -> list[UnsettledWrite]:
    """What the VM's page tells admins: unsettled changes, and those settled in the last `days`."""
    return list(
        UnsettledWrite.objects.filter(group_key=group_key, started__gte=timezone.now() - timedelta(days=days))[:5]
    )


def holdings(policies: list[JitPolicy], policy_id: str) -> dict[str, list[PortData]]:
    """What one policy holds, VM id (lower case) → its ports as data; empty when the policy is gone."""
    return {
        vm.vm_id.lower(): port_data(vm.ports)
        for p in policies
        if p.policy_id.lower() == policy_id.lower()
        for vm in p.vms
    }


def _changed(change: dict) -> dict[str, list[PortData] | None]:
    """The VMs the change changes, each with the ports it gives them (None: it removes the VM)."""
    before, after = change.get("before", {}), change.get("after", {})
    return {vm: after.get(vm) for vm in set(before) | set(after) if before.get(vm) != after.get(vm)}


def applied(write: UnsettledWrite, holds: dict[str, list[PortData]]) -> bool:
    return all(holds.get(vm) == ports for vm, ports in _changed(write.change).items())


def settle(write: UnsettledWrite, credential, read_by: str) -> str:
    """Read the policy as `credential` and settle `write` if Azure now holds it, or the grace has passed; its
    outcome ("" while it stays unsettled)."""
    ref = gateway.parse_policy_id(write.policy_id)
    try:
        policies, refused = gateway.list_policies_in(
            credential, [(ref.subscription_id, ref.resource_group, ref.location)]
        )
        if refused:
            raise next(iter(refused.values()))
    except (gateway.GatewayError, gateway.SignInRequired) as error:
        if timezone.now() < write.settle_by:
            return ""
        return _conclude(write, UnsettledWrite.UNKNOWN, f"Reading it back failed: {error.message}", read_by)
    if applied(write, holdings(policies, write.policy_id)):
        return _conclude(
            write, UnsettledWrite.APPLIED_LATE, "Azure applied it after the portal stopped waiting.", read_by
        )
    if timezone.now() >= write.settle_by:
        return _conclude(write, UnsettledWrite.NOT_APPLIED, "Azure had not applied it when the grace ended.", read_by)
    return ""


def _conclude(write: UnsettledWrite, outcome: str, words: str, read_by: str) -> str:
    """Record what became of the change once (two readers at once settle it once), and free the policy."""
    with transaction.atomic():
        if not UnsettledWrite.objects.filter(pk=write.pk, settled_at__isnull=True).update(
            settled_at=timezone.now(), outcome=outcome, message=words
        ):
            return outcome
        record(
            PORTAL,
            "jit.settle",
            write.policy_id,
            outcome,
            correlation_id=write.correlation_id,
            details={
                **write.change,
                "of": write.action,
                "by": write.user_name,
                "started": write.started.isoformat(),
                "resolved": f"{words} Read back as {read_by}.",
            },
        )
    release(write.group_key, write.lease_token)
    invalidate(gateway.parse_policy_id(write.policy_id).subscription_id)
    logger.info("unsettled change %s settled: %s", write.correlation_id, outcome)
    return outcome


def settle_group(group_key: str, session: MutableMapping[str, Any], read_by: str) -> None:
    """A person about to change (or look at) the group settles what is unsettled there, with their own read."""
    write = pending(group_key)
    if write is not None:
        settle(write, gateway.UserCredential(session), read_by)


def settle_due() -> int:
    """The worker, every minute: read back each unsettled change as the person who made it (their session's
    token, read only; else the app's read-only identity when configured). Returns how many settled."""
    count = 0
    for write in UnsettledWrite.objects.filter(settled_at__isnull=True):
        credential, read_by = _reader(write)
        if credential is None:
            if timezone.now() >= write.settle_by:
                _conclude(write, UnsettledWrite.UNKNOWN, "Nobody could read it back.", "nobody")
                count += 1
            continue
        count += bool(settle(write, credential, read_by))
    return count


def _reader(write: UnsettledWrite):
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if write.session_key and store().exists(write.session_key):
        # Read only, and the session is not saved back: the person's own requests own it.
        return gateway.UserCredential(store(session_key=write.session_key)), write.user_name
    reader = gateway.app_reader()
    return (reader, "the portal's read-only identity") if reader else (None, "")
