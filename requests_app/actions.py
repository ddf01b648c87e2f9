"""Opening ports: the request is saved first, then each policy gets one initiate call (all policies at once),
then the outcome of every VM and port is written back. A second submit of the same form opens nothing more."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from core import gateway
from core.actor import PORTAL, Actor
from trail.chain import record
from trail.models import AuditEvent
from vms.inventory import CONFIGURED, RequestLine, VmRow, invalidate

from . import notices
from .models import AccessRequest, AccessRequestItem, ApprovalRule
from .plan import Planned
from .rules import split
from .states import ItemStatus, RequestStatus

# Azure said no (rights, content, a missing policy, a conflict): asking again the same way will not help.
REFUSALS = (gateway.AccessDenied, gateway.InvalidRequest, gateway.NotFound, gateway.Conflict)
MATCH_END = timedelta(seconds=2)  # Azure may round the end time it was sent


def requestable(rows: list[VmRow]) -> tuple[list[VmRow], list[str]]:
    """The rows access can be requested to (they have JIT), and why each other one cannot."""
    return (
        [r for r in rows if r.tab == CONFIGURED],
        [f"{r.name} has no JIT policy, so access cannot be requested." for r in rows if r.tab != CONFIGURED],
    )


def submit_form(actor: Actor, data: dict, azure_now: datetime) -> AccessRequest:
    """do_submit_request with the request form's cleaned data (the web's form and the API's alike)."""
    return do_submit_request(
        actor,
        data["request_key"],
        data["planned"],
        data["source_prefix"],
        data["window"],
        data.get("justification", ""),
        azure_now,
        break_glass=data.get("break_glass_reason", ""),
    )


def do_submit_request(
    actor: Actor,
    key: str,
    planned: list[Planned],
    source: str,
    window: timedelta,
    justification: str,
    azure_now: datetime,
    *,
    break_glass: str = "",
    extends: AccessRequest | None = None,
) -> AccessRequest:
    """Open each planned port from its source for its window from `azure_now` (Azure's clock: it judges the
    end against its own), or, when an approval rule covers it, save it to wait for approvers. `source` and
    `window` are the request's, for all ports without their own. `break_glass` (a reason) opens at once
    despite a rule; `extends` names the open request this one extends.

    A form whose ports only some rule covers is sent as two requests, both saved before Azure is asked: the
    ports no rule covers open at once (the request returned), the others wait for their rule, `together_with`
    the first (the form and both pages say so)."""
    free, held, rule = split(planned, extends)
    if rule is None or break_glass.strip() or not free:
        return _submit(
            actor,
            key,
            planned,
            source,
            window,
            justification,
            azure_now,
            rule,
            break_glass.strip() if rule else "",
            extends,
        )
    waiting, created = _save(actor, f"{key}/held", held, source, window, azure_now, justification, rule, "", extends)
    opening = _submit(
        actor,
        key,
        free,
        source,
        window,
        justification,
        azure_now,
        None,
        "",
        extends,
        holds=waiting if created else None,
    )
    return opening


def _submit(
    actor: Actor,
    key: str,
    planned: list[Planned],
    source: str,
    window: timedelta,
    justification: str,
    azure_now: datetime,
    rule: ApprovalRule | None,
    break_glass: str,
    extends: AccessRequest | None,
    holds: AccessRequest | None = None,
) -> AccessRequest:
    """One request: saved, then opened or left waiting for `rule`. `holds`: its other part, saved just before,
    waiting for a rule (recorded and told about once this one is saved)."""
    access, created = _save(actor, key, planned, source, window, azure_now, justification, rule, break_glass, extends)
    if not created:
        if access.user_id != actor.user_pk:
            raise PermissionDenied("That request belongs to someone else.")
        return access
    if holds is not None:
        holds.together_with = access
        holds.save(update_fields=["together_with"])
        _wait(actor, holds)
    if access.status == RequestStatus.PENDING_APPROVAL:
        _wait(actor, access)
        return access
    open_request(actor, access, justification, "access.request")
    if access.break_glass:
        notices.break_glass(access)
    return access


def _wait(actor: Actor, access: AccessRequest) -> None:
    record(
        actor,
        "access.request",
        targets(access),
        RequestStatus.PENDING_APPROVAL.label,
        details={
            **_details(access),
            "rule": access.rule_name,
            "approvals_needed": access.approvals_needed,
            "pending_until": access.pending_until.isoformat(),
        },
    )
    notices.pending(access)


def open_request(actor: Actor, access: AccessRequest, justification: str, action: str) -> None:
    """Ask Azure, as `actor`, to open every port of a saved request (one initiate per policy, all at once),
    write each outcome back and record it in the trail under `action` with the justification Azure got."""
    by_policy: dict[str, list[AccessRequestItem]] = defaultdict(list)
    for item in access.items.all():
        by_policy[item.policy_id].append(item)
    with transaction.atomic():  # one commit for all correlation ids, still before any Azure call
        plans = [_plan(policy_id, items) for policy_id, items in by_policy.items()]
    # Azure's calls in parallel, the database's writes here: a worker thread's connection would be outside this
    # request's transaction.
    answers = gateway.parallel(lambda plan: _ask(actor, plan, justification), plans)
    with transaction.atomic():  # one write for every outcome, not one per VM and port
        for plan, answer in zip(plans, answers, strict=True):
            _settle_answer(plan, answer, justification)
        _write_outcomes([i for plan in plans for i in plan.items])
    _conclude(actor, access, justification, action)
    for policy_id in by_policy:
        invalidate(gateway.subscription_of(policy_id))
    expired = next((a for a in answers if isinstance(a, gateway.SignInRequired)), None)
    if expired is not None:
        raise expired  # after every outcome is written: the middleware sends the person to sign in and back


def _conclude(actor: Actor, access: AccessRequest, justification: str, action: str) -> None:
    outcomes = {item.status for item in access.items.all()}
    access.move(
        RequestStatus.OPENED
        if outcomes == {ItemStatus.OPENED}
        else RequestStatus.NOT_OPENED
        if ItemStatus.OPENED not in outcomes
        else RequestStatus.PARTLY_OPENED
    )
    if access.status != RequestStatus.NOT_OPENED:
        access.opened_by = actor.user
    access.save(update_fields=["status", "opened_by"])
    record(
        actor,
        action,
        targets(access),
        access.status,
        details={**_details(access), "justification": justification},
        correlation_id=next((i.correlation_id for i in access.items.all() if i.correlation_id), ""),
    )


def targets(access: AccessRequest) -> str:
    return ", ".join(sorted({i.policy_id for i in access.items.all()}))


def _details(access: AccessRequest) -> dict:
    """What the trail keeps of a request: enough to explain it without the (editable) request rows."""
    details = {
        "request": access.pk,
        "requester": getattr(access.user, "upn", ""),
        "source": access.source_prefix,
        "justification": access.justification,
        "minutes": access.duration_minutes,
        "items": [
            {
                "vm": i.vm_id,
                "port": i.port,
                "end": i.end.isoformat(),
                "source": i.source or access.source_prefix,
                "status": i.status,
                "message": i.message,
                "correlation_id": i.correlation_id,
            }
            for i in access.items.all()
        ],
    }
    if access.break_glass:
        details["break_glass"] = access.break_glass
    if access.extends_id:
        details["extends"] = access.extends_id
    if access.together_with_id:
        details["together_with"] = access.together_with_id
    return details


def _save(
    actor: Actor,
    key: str,
    planned: list[Planned],
    source: str,
    window: timedelta,
    azure_now: datetime,
    justification: str,
    rule: ApprovalRule | None,
    break_glass: str,
    extends: AccessRequest | None,
) -> tuple[AccessRequest, bool]:
    """Commit the request before any Azure call: nothing a person submitted is ever lost."""
    waits = rule is not None and not break_glass
    with transaction.atomic():
        access, created = AccessRequest.objects.get_or_create(
            idempotency_key=key,
            defaults={
                "user": actor.user,
                "justification": justification,
                "source_prefix": source,
                "duration_minutes": int(window.total_seconds() // 60),
                "break_glass": break_glass,
                "extends": extends,
                "opening_since": None if waits else timezone.now(),
                **(
                    {
                        "status": RequestStatus.PENDING_APPROVAL,
                        "rule": rule,
                        "rule_name": rule.name,
                        "approvals_needed": rule.approvals_needed,
                        "approvers": rule.approvers,
                        "pending_until": timezone.now() + timedelta(minutes=rule.pending_minutes),
                    }
                    if waits
                    else {}
                ),
            },
        )
        if created:
            AccessRequestItem.objects.bulk_create(
                [
                    AccessRequestItem(
                        request=access,
                        vm_id=p.choice.row.vm_id,
                        vm_name=p.choice.row.name,
                        policy_id=p.choice.row.policy_id,
                        port=p.choice.port.number,
                        end=azure_now + p.window,
                        minutes=int(p.window.total_seconds() // 60),
                        source="" if p.source == source else p.source,
                    )
                    for p in planned
                ]
            )
    return access, created


@dataclass
class _Plan:
    """One policy's initiate: its saved items, and what is sent for each VM."""

    ref: gateway.PolicyRef | None
    policy_id: str
    items: list[AccessRequestItem]
    vms: dict[str, tuple[gateway.GrantPort, ...]]
    correlation: str


# What Azure answered one plan: the grant, the error, (answer lost) the policy's requests read back, or nothing
# because the person's sign-in had expired before the call.
_Answer = (
    gateway.GrantResult
    | gateway.GatewayError
    | gateway.SignInRequired
    | tuple[gateway.OutcomeUnknown, list[gateway.JitPolicy] | None]
)


def _plan(policy_id: str, items: list[AccessRequestItem]) -> _Plan:
    correlation = str(uuid.uuid4())  # saved before the call, so the request can be found again in Azure
    AccessRequestItem.objects.filter(pk__in=[i.pk for i in items]).update(correlation_id=correlation)
    vms: dict[str, list[gateway.GrantPort]] = defaultdict(list)
    for item in items:
        item.correlation_id = correlation
        vms[item.vm_id].append(gateway.GrantPort(item.port, item.source_prefix, item.end))
    return _Plan(
        gateway.parse_policy_id(policy_id), policy_id, items, {k: tuple(v) for k, v in vms.items()}, correlation
    )


def _ask(actor: Actor, plan: _Plan, justification: str) -> _Answer:
    """Azure only (on a worker thread): initiate, and when its answer was lost, the policy's requests."""
    ref = plan.ref
    try:
        if ref is None:
            raise gateway.InvalidRequest(f"'{plan.policy_id}' is not a JIT policy id.")
        return gateway.initiate(actor.session, ref, plan.vms, justification, plan.correlation)
    except gateway.OutcomeUnknown as lost:
        try:
            return lost, gateway.list_policies_at(actor.session, ref.subscription_id, ref.resource_group, ref.location)
        except gateway.GatewayError:
            return lost, None
    except (gateway.GatewayError, gateway.SignInRequired) as error:
        return error


def _settle_answer(plan: _Plan, answer: _Answer, justification: str) -> None:
    if isinstance(answer, tuple):
        lost, policies = answer
        _read_back(plan.ref, plan.items, policies, lost.message, justification)
        return
    if isinstance(answer, gateway.SignInRequired):
        _settle(plan.items, ItemStatus.FAILED, "Not opened: the sign-in had expired. Sign in and try again.")
        return
    if isinstance(answer, gateway.GatewayError):
        status = ItemStatus.REFUSED if isinstance(answer, REFUSALS) else ItemStatus.FAILED
        _settle(plan.items, status, answer.message)
        return
    for item in plan.items:
        granted = dict(answer.opened.get(item.vm_id.lower(), ()))
        if item.port in granted:
            item.end = granted[item.port]
            item.mapped_port = answer.mapped.get(item.vm_id.lower(), {}).get(item.port)
            _settle([item], ItemStatus.OPENED, "Opened.")
        else:
            _settle([item], ItemStatus.REFUSED, "Azure's answer did not include this port.")


def _read_back(
    ref: gateway.PolicyRef,
    items: list[AccessRequestItem],
    policies: list[gateway.JitPolicy] | None,
    why: str,
    justification: str,
) -> None:
    """Initiate's answer was lost, so Azure may have opened the ports: look for this request among the
    policy's requests read back (same VM, port, end and justification) instead of guessing."""
    if policies is None:
        _settle(
            items,
            ItemStatus.UNKNOWN,
            f"{why} The portal could not check whether your ports opened: look at My access in a minute.",
        )
        return
    granted = {
        (vm.vm_id.lower(), port.number): port
        for p in policies
        if p.policy_id.lower() == ref.policy_id.lower()
        for request in p.requests
        if (request.justification or "") == (justification or "")
        for vm in request.vms
        for port in vm.ports
        if port.status == "Initiated"
    }
    for item in items:
        port = granted.get((item.vm_id.lower(), item.port))
        if port is not None and abs(port.end - item.end) <= MATCH_END:
            item.end, item.mapped_port = port.end, port.mapped_port
            _settle([item], ItemStatus.OPENED, f"{why} The portal checked: it is open.")
        else:
            _settle([item], ItemStatus.FAILED, f"{why} The portal checked: it was not opened. Request again.")


def record_applied_late(found: list[tuple[AccessRequestItem, RequestLine]]) -> int:
    """Ports recorded failed or not confirmed after their answer was lost, that Azure's request history (read
    with a person's inventory: no call of its own) now lists open with their end to the second: Azure applied
    them after the portal stopped waiting. Each becomes opened, once, and the trail says so: one `access.settle`
    event per initiate (its correlation id), outcome "applied late". The request's own status keeps what its
    opening concluded; its ports say what Azure did. Returns how many ports."""
    by_call: dict[tuple[int, str], list[tuple[AccessRequestItem, RequestLine]]] = defaultdict(list)
    for item, line in found:
        by_call[(item.request_id, item.correlation_id)].append((item, line))
    count = 0
    for (request_id, correlation), pairs in by_call.items():
        with transaction.atomic():
            late = [
                (item, line)
                for item, line in pairs
                if AccessRequestItem.objects.filter(
                    pk=item.pk, status__in=(ItemStatus.FAILED, ItemStatus.UNKNOWN)
                ).update(
                    status=ItemStatus.OPENED,
                    end=line.end,
                    mapped_port=line.mapped_port,
                    message=f"{item.message} Azure opened it after all (applied late).",
                )
            ]
            if not late:
                continue
            record(
                PORTAL,
                "access.settle",
                ", ".join(sorted({i.policy_id for i, _ in late})),
                "applied late",
                correlation_id=correlation,
                details={
                    "request": request_id,
                    "requester": late[0][1].requestor,
                    "justification": late[0][1].justification,
                    "source": late[0][0].source_prefix,
                    "items": [
                        {
                            "vm": i.vm_id,
                            "port": i.port,
                            "end": x.end.isoformat(),
                            "source": x.source,
                            "status": ItemStatus.OPENED.value,
                            "was": i.status,
                            "correlation_id": correlation,
                        }
                        for i, x in late
                    ],
                },
            )
        count += len(late)
    return count


def settle_late_openings(now: datetime | None = None) -> int:
    """The worker, every minute: the ports of the last day recorded failed or not confirmed are looked for in
    Azure's request history as the read-only app identity (one list per resource group and region, in parallel),
    and those Azure lists open are recorded as applied late. Without that identity, the requester's own My access
    does it. Returns how many ports."""
    reader = gateway.app_reader()
    if reader is None:
        return 0
    now = now or timezone.now()
    items = list(
        AccessRequestItem.objects.filter(
            status__in=(ItemStatus.FAILED, ItemStatus.UNKNOWN),
            end__gt=now,
            request__created__gte=now - timedelta(days=1),
        ).exclude(correlation_id="")
    )
    refs = [gateway.parse_policy_id(i.policy_id) for i in items]
    places = sorted({(r.subscription_id, r.resource_group, r.location) for r in refs if r})
    if not places:
        return 0
    policies, _ = gateway.list_policies_in(reader, places)
    lines = {
        (p.policy_id.lower(), vm.vm_id.lower(), port.number, int(port.end.timestamp())): RequestLine.of(request, port)
        for p in policies
        for request in p.requests
        for vm in request.vms
        for port in vm.ports
        if port.status == "Initiated" and port.end > now
    }
    found = [
        (i, line)
        for i in items
        if (line := lines.get((i.policy_id.lower(), i.vm_id.lower(), i.port, int(i.end.timestamp()))))
    ]
    return record_applied_late(found)


def _write_outcomes(items: list[AccessRequestItem]) -> None:
    """One UPDATE per distinct outcome: a request's ports mostly share one (opened, same end), and Django's
    `bulk_update` builds a CASE per field and item, which cost a 20-VM request 9 ms of CPU."""
    alike: dict[tuple, list[int]] = defaultdict(list)
    for item in items:
        alike[(item.status, item.message, item.end, item.mapped_port)].append(item.pk)
    for (status, message, end, mapped_port), pks in alike.items():
        AccessRequestItem.objects.filter(pk__in=pks, status__in=ItemStatus.from_states(status)).update(
            status=status, message=message, end=end, mapped_port=mapped_port
        )


def _settle(items: list[AccessRequestItem], status: ItemStatus, message: str) -> None:
    """An outcome on the items in hand; `open_request` writes them all in one statement."""
    for item in items:
        item.status, item.message = ItemStatus(item.status).step(status), message


def ensure_demo_rule(subscription_id: str, enforced_subscription_id: str = "") -> None:
    """The demo's rules (`make serve` against the sandbox): Production needs one approval (Alice can skip it in
    Azure), and so does Shared services (enforced). Made once: never again after an admin has changed or
    removed rules."""
    with transaction.atomic():
        if ApprovalRule.objects.exists() or AuditEvent.objects.filter(action__startswith="rule.").exists():
            return
        for name, subscription in (("Production", subscription_id), ("Shared services", enforced_subscription_id)):
            if not subscription:
                continue
            rule = ApprovalRule.objects.create(name=name, subscription_id=subscription.lower(), approvals_needed=1)
            record(
                PORTAL,
                "rule.create",
                f"approval rule {rule.pk}",
                "saved",
                details={
                    "before": {},
                    "after": {
                        "name": rule.name,
                        "subscription_id": rule.subscription_id,
                        "approvals_needed": "1",
                        "note": "the demo's rule",
                    },
                },
            )
