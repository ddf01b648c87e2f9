"""The audit report: Azure's Activity Log for JIT, joined with what the portal and the policies know.

An initiate event says who and when, not which VM or why. The join adds that: first from the
portal's own request (same correlation id), else from the policy's request history in Azure (same
requestor, start within a few seconds of the event).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jitportal import gateway
from jitportal.gateway import ActivityEvent, JitPolicy
from requests_app.models import AccessRequestItem
from vms.inventory import VmRow

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


@dataclass(frozen=True)
class Filters:
    start: datetime
    end: datetime
    subscription: str = ""
    resource_group: str = ""
    vm: str = ""
    person: str = ""
    operation: str = ""


def _window(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"


def _is_initiate(event: ActivityEvent) -> bool:
    return event.operation.endswith("/initiate/action")


def join(events: tuple[ActivityEvent, ...], portal: dict[str, list[AccessRequestItem]],
         policies: dict[str, JitPolicy], names: dict[str, str]) -> list[ReportRow]:
    """Each event as a report row. `portal` holds the portal's request items by correlation id, and
    `policies` the JIT policies by lower-case id, for their request history."""
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
        policy = policies.get(event.resource_id.lower())
        lines = [(vm.vm_id.rsplit("/", 1)[-1], request, port) for request in (policy.requests if policy else ())
                 if request.requestor.lower() == event.caller.lower() and abs(request.start - event.time) <= MATCH_WINDOW
                 for vm in request.vms for port in vm.ports]
        if lines and _is_initiate(event):
            first = lines[0][1]
            rows.append(ReportRow(**base, vms=", ".join(sorted({name for name, _, _ in lines})),
                                  ports=", ".join(sorted({str(port.number) for _, _, port in lines}, key=int)),
                                  source=lines[0][2].source, justification=first.justification,
                                  window=_window(first.start, max(port.end for _, _, port in lines)),
                                  joined_from="Azure policy history"))
        else:
            rows.append(ReportRow(**base))
    return rows


def keep(row: ReportRow, f: Filters) -> bool:
    e = row.event
    return ((not f.subscription or e.subscription_id.lower() == f.subscription.lower())
            and (not f.resource_group or e.resource_group.lower() == f.resource_group.lower())
            and (not f.vm or any(f.vm.lower() in n.lower() for n in row.policy_vm_names))
            and (not f.person or f.person.lower() in e.caller.lower())
            and (not f.operation or e.operation.endswith(OPERATIONS[f.operation])))


def _portal_items(events: tuple[ActivityEvent, ...]) -> dict[str, list[AccessRequestItem]]:
    ids = [e.correlation_id for e in events if _is_initiate(e) and e.correlation_id]
    found: dict[str, list[AccessRequestItem]] = {}
    for item in AccessRequestItem.objects.filter(correlation_id__in=ids).select_related("request"):
        found.setdefault(item.correlation_id, []).append(item)
    return found


def _unexplained(events: tuple[ActivityEvent, ...], portal: dict) -> list[ActivityEvent]:
    """Initiate events the portal did not make: only the policy's history in Azure can explain them."""
    return [e for e in events if _is_initiate(e) and e.correlation_id not in portal]


def fleet_rows(session: MutableMapping[str, Any], f: Filters):
    subscriptions = gateway.list_subscriptions(session)
    if f.subscription:
        subscriptions = [s for s in subscriptions if s.subscription_id.lower() == f.subscription.lower()]
    page = gateway.list_jit_activity(session, subscriptions, f.start, f.end)
    portal = _portal_items(page.events)
    # A subscription whose policies cannot be read loses the join, not the report.
    found, _ = gateway.list_policies(session, sorted({e.subscription_id.lower() for e in _unexplained(page.events, portal)}))
    names = {s.subscription_id.lower(): s.display_name for s in subscriptions}
    rows = join(page.events, portal, {p.policy_id.lower(): p for p in found}, names)
    return [r for r in rows if keep(r, f)], page.failures, subscriptions


def vm_rows(session: MutableMapping[str, Any], vm: VmRow, f: Filters):
    subscription = gateway.Subscription(vm.subscription_id, vm.subscription_name, "")
    page = gateway.list_jit_activity(session, [subscription], f.start, f.end, resource_id=vm.policy_id)
    portal = _portal_items(page.events)
    policies: list[JitPolicy] = []
    ref = gateway.parse_policy_id(vm.policy_id)
    if ref is not None and _unexplained(page.events, portal):
        try:
            policies = gateway.list_policies_at(session, ref.subscription_id, ref.resource_group, ref.location)
        except gateway.GatewayError:
            pass  # the join loses Azure's request history; the report itself still stands
    rows = join(page.events, portal, {p.policy_id.lower(): p for p in policies},
                {vm.subscription_id.lower(): vm.subscription_name})
    # The policy holds other VMs too: keep its writes and deletes, and the requests that touched this VM.
    return [r for r in rows if not r.vms or vm.name in r.policy_vm_names], page.failures
