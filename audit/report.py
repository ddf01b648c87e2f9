"""The audit report: Azure's Activity Log for JIT, joined with what the portal and the policies know.

An initiate event says who and when, not which VM or why. The join adds that: first from the
portal's own request (same correlation id), else from the policy's request history in Azure (same
requestor, start within a few seconds of the event).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from jitportal import gateway
from jitportal.gateway import ActivityEvent
from requests_app.models import AccessRequestItem
from vms.inventory import Inventory, RequestLine

MATCH_WINDOW = timedelta(seconds=10)
OPERATIONS = {"initiate": "/initiate/action", "write": "/write", "delete": "/delete"}


@dataclass(frozen=True)
class ReportRow:
    event: ActivityEvent
    subscription_name: str
    vms: str = ""
    ports: str = ""
    source: str = ""
    justification: str = ""
    window: str = ""
    joined_from: str = ""  # "portal", "Azure policy history" or ""

    @property
    def policy_vm_names(self) -> set[str]:
        return {v.strip() for v in self.vms.split(",") if v.strip()}


def _window(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"


def join(events: tuple[ActivityEvent, ...], inventory: Inventory | None, names: dict[str, str]) -> list[ReportRow]:
    initiate_ids = [e.correlation_id for e in events if e.operation.endswith("/initiate/action") and e.correlation_id]
    portal: dict[str, list[AccessRequestItem]] = {}
    for item in AccessRequestItem.objects.filter(correlation_id__in=initiate_ids).select_related("request"):
        portal.setdefault(item.correlation_id, []).append(item)
    history: dict[str, list[tuple[str, RequestLine]]] = {}
    for row in inventory.rows if inventory else ():
        history.setdefault(row.policy_id.lower(), []).extend((row.name, line) for line in row.history)
    rows = []
    for event in events:
        base = {"event": event, "subscription_name": names.get(event.subscription_id.lower(), event.subscription_id)}
        items = portal.get(event.correlation_id)
        if items:
            request = items[0].request
            rows.append(ReportRow(**base, vms=", ".join(sorted({i.vm_name for i in items})),
                                  ports=", ".join(sorted({str(i.port) for i in items}, key=int)),
                                  source=request.source_prefix, justification=request.justification,
                                  window=_window(request.created, max(i.end for i in items)), joined_from="portal"))
            continue
        lines = [(name, line) for name, line in history.get(event.resource_id.lower(), [])
                 if line.requestor.lower() == event.caller.lower() and abs(line.start - event.time) <= MATCH_WINDOW]
        if lines and event.operation.endswith("/initiate/action"):
            first = lines[0][1]
            rows.append(ReportRow(**base, vms=", ".join(sorted({n for n, _ in lines})),
                                  ports=", ".join(sorted({str(ln.port) for _, ln in lines}, key=int)),
                                  source=first.source, justification=first.justification,
                                  window=_window(first.start, max(ln.end for _, ln in lines)),
                                  joined_from="Azure policy history"))
        else:
            rows.append(ReportRow(**base))
    return rows


@dataclass(frozen=True)
class Filters:
    start: datetime
    end: datetime
    subscription: str = ""
    resource_group: str = ""
    vm: str = ""
    person: str = ""
    operation: str = ""


def keep(row: ReportRow, f: Filters) -> bool:
    e = row.event
    return ((not f.subscription or e.subscription_id.lower() == f.subscription.lower())
            and (not f.resource_group or e.resource_group.lower() == f.resource_group.lower())
            and (not f.vm or any(f.vm.lower() in n.lower() for n in row.policy_vm_names))
            and (not f.person or f.person.lower() in e.caller.lower())
            and (not f.operation or e.operation.endswith(OPERATIONS[f.operation])))


def fleet_rows(session, f: Filters, inventory: Inventory | None):
    subscriptions = gateway.list_subscriptions(session)
    if f.subscription:
        subscriptions = [s for s in subscriptions if s.subscription_id.lower() == f.subscription.lower()]
    page = gateway.list_jit_activity(session, subscriptions, f.start, f.end)
    names = {s.subscription_id.lower(): s.display_name for s in subscriptions}
    return [r for r in join(page.events, inventory, names) if keep(r, f)], page.failures, subscriptions


def vm_rows(session, vm_row, f: Filters, inventory: Inventory | None):
    subscription = gateway.Subscription(vm_row.subscription_id, vm_row.subscription_name, "")
    page = gateway.list_jit_activity(session, [subscription], f.start, f.end, resource_id=vm_row.policy_id)
    rows = join(page.events, inventory, {vm_row.subscription_id.lower(): vm_row.subscription_name})
    # The policy holds other VMs too: keep its writes and deletes, and the requests that touched this VM.
    return [r for r in rows if not r.vms or vm_row.name in r.policy_vm_names], page.failures
