"""Opening ports: the request is saved first, then each policy gets one initiate call, then the
outcome of every VM and port is written back. A second submit of the same form opens nothing more."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audit.trail import record
from jitportal import gateway
from jitportal.actor import Actor
from vms.inventory import CONFIGURED, VmRow, invalidate

from .forms import Choice
from .models import AccessRequest, AccessRequestItem


def requestable(rows: list[VmRow]) -> tuple[list[VmRow], list[str]]:
    """The rows access can be requested to (they have JIT), and why each other one cannot."""
    return ([r for r in rows if r.tab == CONFIGURED],
            [f"{r.name} has no JIT policy, so access cannot be requested." for r in rows if r.tab != CONFIGURED])


def do_request_access(actor: Actor, key: str, chosen: list[Choice], source: str, window: timedelta,
                      justification: str) -> AccessRequest:
    access, created = _save(actor, key, chosen, source, window, justification)
    if not created:
        if access.user_id != actor.user_pk:
            raise PermissionDenied("That request belongs to someone else.")
        return access
    by_policy: dict[str, list[AccessRequestItem]] = defaultdict(list)
    for item in access.items.all():
        by_policy[item.policy_id].append(item)
    for policy_id, items in by_policy.items():
        _initiate(actor, policy_id, items, source, justification)
    outcomes = {item.status for item in access.items.all()}
    access.status = (AccessRequest.OPENED if outcomes == {AccessRequestItem.OPENED} else
                     AccessRequest.FAILED if AccessRequestItem.OPENED not in outcomes else AccessRequest.PARTIAL)
    access.save(update_fields=["status"])
    record(actor, "access.request", ", ".join(sorted(by_policy)), access.status, details={
        "request": access.pk, "source": source, "justification": justification, "minutes": access.duration_minutes,
        "items": [{"vm": i.vm_id, "port": i.port, "end": i.end.isoformat(), "status": i.status, "message": i.message,
                   "correlation_id": i.correlation_id} for i in access.items.all()],
    }, correlation_id=next((i.correlation_id for i in access.items.all() if i.correlation_id), ""))
    for policy_id in by_policy:
        invalidate(policy_id.split("/")[2])
    return access


def _save(actor: Actor, key: str, chosen: list[Choice], source: str, window: timedelta,
          justification: str) -> tuple[AccessRequest, bool]:
    with transaction.atomic():
        access, created = AccessRequest.objects.get_or_create(idempotency_key=key, defaults={
            "user": actor.user, "justification": justification, "source_prefix": source,
            "duration_minutes": int(window.total_seconds() // 60)})
        if created:
            end = timezone.now() + window
            AccessRequestItem.objects.bulk_create([AccessRequestItem(
                request=access, vm_id=c.row.vm_id, vm_name=c.row.name, policy_id=c.row.policy_id, port=c.port.number,
                end=end) for c in chosen])
    return access, created


def _initiate(actor: Actor, policy_id: str, items: list[AccessRequestItem], source: str,
              justification: str) -> None:
    ref = gateway.parse_policy_id(policy_id)
    vms: dict[str, list[gateway.GrantPort]] = defaultdict(list)
    for item in items:
        vms[item.vm_id].append(gateway.GrantPort(item.port, source, item.end))
    try:
        if ref is None:
            raise gateway.InvalidRequest(f"'{policy_id}' is not a JIT policy id.")
        result = gateway.initiate(actor.session, ref, {k: tuple(v) for k, v in vms.items()}, justification)
    except gateway.GatewayError as error:
        for item in items:
            item.status, item.message, item.correlation_id = AccessRequestItem.FAILED, error.message, error.correlation_id
            item.save(update_fields=["status", "message", "correlation_id"])
        return
    for item in items:
        granted = dict(result.opened.get(item.vm_id.lower(), ()))
        item.correlation_id = result.correlation_id
        if item.port in granted:
            item.status, item.end = AccessRequestItem.OPENED, granted[item.port]
            item.message = "Opened."
        else:
            item.status, item.message = AccessRequestItem.FAILED, "Azure's answer did not include this port."
        item.save(update_fields=["status", "message", "correlation_id", "end"])
