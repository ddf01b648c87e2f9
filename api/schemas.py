"""What the API reads and writes, as the OpenAPI document describes it. Builders turn the portal's own rows
(VmRow, AccessRequest…) into these shapes; no model is exposed as it is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema

from core.gateway import PortRule
from requests_app.models import AccessRequest, ApprovalRule
from vms.inventory import RequestLine, VmRow


class ProblemOut(Schema):
    """RFC 9457 (application/problem+json): what went wrong, in the pages' words; `errors` per field for 422."""

    type: str
    title: str
    status: int
    detail: str = ""
    errors: dict[str, list[str]] | None = None


# Every operation may answer these; the document lists them so that a client knows the shape of each refusal.
PROBLEMS = {
    401: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    409: ProblemOut,
    422: ProblemOut,
    429: ProblemOut,
    502: ProblemOut,
}


def answers(ok: dict | type) -> dict:
    """An operation's answers: its own (a schema for 200, or a dict of them) and the problems."""
    return {**(ok if isinstance(ok, dict) else {200: ok}), **PROBLEMS}


class Me(Schema):
    tenant_id: str
    object_id: str
    username: str
    display_name: str
    roles: list[str]
    channel: str


class Port(Schema):
    number: int
    protocol: str = Field(description="TCP, UDP or * (any)")
    max_minutes: int = Field(description="the longest window a request may ask for this port")
    allowed_sources: list[str] = Field(description='["*"]: any source, given per request; else only these, verbatim')


class Vm(Schema):
    id: str
    name: str
    subscription_id: str
    subscription_name: str
    resource_group: str
    location: str
    os_type: str
    power_state: str
    tab: Literal["configured", "not-configured", "unsupported"]
    reason: str = Field(description="why JIT cannot protect it (unsupported tab)")
    fix: str
    policy_id: str
    ports: list[Port]
    protection: str = Field(description="what enforces JIT: the NSG or the Azure Firewall")
    private_ip: str
    public_ip: str
    connect_address: str = Field(
        description="where a requester connects: the firewall's public IP, the VM's public IP, else its private IP"
    )
    approved_7d: int
    last_access: datetime | None
    last_user: str


class Line(Schema):
    """A line of Azure's request history for a VM."""

    start: datetime
    end: datetime
    requestor: str
    justification: str
    port: int
    source: str
    status: str
    reason: str
    mapped_port: int | None


class VmDetail(Vm):
    open_now: list[Line]
    recent: list[Line]
    why_not_request: str = Field(description='why Azure would refuse this person a request here ("": it would not)')
    why_not_configure: str


class Page(Schema):
    page: int
    pages: int
    count: int


class VmPage(Page):
    items: list[Vm]
    counts: dict[str, int]
    age_seconds: int = Field(description="how old the inventory is (it is cached briefly per person)")
    unavailable: list[str] = Field(description="subscriptions Azure did not answer for, in words")


class PortOverride(Schema):
    """One port's own window or source, as the form's "Own time or source" under a port (it is opened too)."""

    vm: str = Field(description="the VM's Azure id")
    port: int
    duration_minutes: int | None = None
    source: str | None = Field(None, max_length=100, description="an IP or CIDR, or a prefix the policy lists")


class RequestIn(Schema):
    vms: list[str] = Field(min_length=1, max_length=500, description="Azure VM ids")
    ports: list[int] | None = Field(
        None,
        max_length=100,
        description="omitted: each VM's usual port (SSH on Linux, RDP on Windows, else its policy's first)",
    )
    source: str = Field(
        "my-ip",
        max_length=100,
        description='"my-ip" (the address the portal sees this call from), a prefix the policy lists, or another IP or CIDR',
    )
    duration_minutes: int = Field(description="the window, from 5 minutes to 24 hours and at most each port's maximum")
    justification: str = Field("", max_length=5000)
    break_glass_reason: str = Field(
        "", max_length=5000, description="open at once despite an approval rule: why this cannot wait"
    )
    overrides: list[PortOverride] = Field([], max_length=100, description="ports with their own window or source")


class Item(Schema):
    id: int
    vm_id: str
    vm_name: str
    port: int
    source: str
    end: datetime
    status: str = Field(description="the portal's record: pending, opened, refused, failed, unknown")
    fate: str = Field(
        description="what became of it, in the pages' words (open, expired, replaced by a newer request…)"
    )
    message: str
    connect_address: str = Field(
        description="where to connect (the firewall's public IP, the VM's public IP, else its private IP); \"\" when Azure's view is not at hand"
    )
    connect_port: int


class Decision(Schema):
    approver: str
    decision: str
    comment: str
    created: datetime


class Request(Schema):
    id: int
    requester: str
    created: datetime
    state: str = Field(description="in the pages' words: Open now, Pending approval (0 of 1), Denied, Expired…")
    status: str
    justification: str
    source: str
    duration_minutes: int
    break_glass: str
    rule: str
    approvals_needed: int
    pending_until: datetime | None
    extends: int | None
    ended_at: datetime | None
    items: list[Item]
    decisions: list[Decision]


class RequestPage(Page):
    items: list[Request]


class OpenAccess(Schema):
    request_id: int
    item_id: int
    vm_id: str
    vm_name: str
    port: int = Field(description="the VM's port")
    connect_address: str
    connect_port: int = Field(
        description="where to connect: the firewall's mapped port when JIT is behind Azure Firewall"
    )
    end: datetime
    seconds_left: int
    ssh: str = Field(description="an ssh command line (port 22)")


class ExtendIn(Schema):
    duration_minutes: int


class DecisionIn(Schema):
    decision: Literal["approve", "deny"]
    comment: str = Field("", max_length=5000)


class Waiting(Schema):
    request: Request
    can_decide: bool
    why_not: str


class Rule(Schema):
    id: int
    name: str
    subscription_id: str
    resource_group: str
    condition: str
    longer_than_minutes: int | None
    ports: str
    approvals_needed: int
    approvers: list[str]
    pending_minutes: int
    extension_minutes: int
    summary: str


class Event(Schema):
    seq: int
    created: datetime
    actor: str
    action: str
    target: str
    outcome: str
    source_ip: str
    correlation_id: str
    channel: str
    details: dict


class EventPage(Page):
    items: list[Event]
    hidden: int = Field(description="events your Azure read scope hides")


class ReportLine(Schema):
    """One row of the audit report: its event code and type (docs/audit-events.md), the Azure portal's Activity Log
    columns, then the portal's."""

    event_code: str  # JIT100I: access granted, succeeded; JIT102I: ended early; JIT202I: JIT removed…
    event_type: str
    correlation_id: str
    operation: str
    status: str
    category: str
    level: str
    time: datetime
    subscription: str
    initiated_by: str
    resource_type: str
    resource_group: str
    resource: str
    meaning: str  # the portal's words beside Azure's operation: "access granted", "ended early by …", "JIT removed"
    requested_by: str  # who asked (initiated_by is whoever's token opened it: an approver, say)
    portal_request: str  # "request 12": the portal request it opened, extended or ended
    vms: str
    ports: str
    source: str
    justification: str
    window: str
    change: str
    fate: str
    explained_by: str
    approver: str
    decided: datetime | None
    comment: str
    break_glass: str


class ReportPage(Page):
    items: list[ReportLine]
    hidden: int
    unread: list[str] = Field(description="subscriptions whose Activity Log could not be read now (archive only)")


def port(rule: PortRule) -> dict:
    return {
        "number": rule.number,
        "protocol": rule.protocol,
        "max_minutes": int(rule.max_duration.total_seconds() // 60),
        "allowed_sources": list(rule.allowed_prefixes),
    }


def vm(row: VmRow) -> dict:
    return {
        "id": row.vm_id,
        "name": row.name,
        "subscription_id": row.subscription_id,
        "subscription_name": row.subscription_name,
        "resource_group": row.resource_group,
        "location": row.location,
        "os_type": row.os_type,
        "power_state": row.power_state,
        "tab": row.tab,
        "reason": row.reason,
        "fix": row.fix,
        "policy_id": row.policy_id,
        "ports": [port(p) for p in row.ports],
        "protection": row.protection,
        "private_ip": row.private_ip,
        "public_ip": row.public_ip,
        "connect_address": row.connect_address,
        "approved_7d": row.approved_7d,
        "last_access": row.last_access,
        "last_user": row.last_user,
    }


def line(entry: RequestLine) -> dict:
    return {
        k: getattr(entry, k)
        for k in ("start", "end", "requestor", "justification", "port", "source", "status", "reason", "mapped_port")
    }


def request(access: AccessRequest, state: str, fates: dict[int, str], addresses: dict[str, str]) -> dict:
    return {
        "id": access.pk,
        "requester": access.user.upn,
        "created": access.created,
        "state": state,
        "status": access.status,
        "justification": access.justification,
        "source": access.source_prefix,
        "duration_minutes": access.duration_minutes,
        "break_glass": access.break_glass,
        "rule": access.rule_name,
        "approvals_needed": access.approvals_needed,
        "pending_until": access.pending_until,
        "extends": access.extends_id,
        "ended_at": access.ended_at,
        "items": [
            {
                "id": i.pk,
                "vm_id": i.vm_id,
                "vm_name": i.vm_name,
                "port": i.port,
                "source": i.source_prefix,
                "end": i.end,
                "status": i.status,
                "fate": fates.get(i.pk, i.label),
                "message": i.message,
                "connect_address": addresses.get(i.vm_id.lower(), ""),
                "connect_port": i.connect_port,
            }
            for i in access.items.all()
        ],
        "decisions": [
            {"approver": a.approver.upn, "decision": a.decision, "comment": a.comment, "created": a.created}
            for a in access.approvals.all()
        ],
    }


def rule(r: ApprovalRule) -> dict:
    return {
        "id": r.pk,
        "name": r.name,
        "subscription_id": r.subscription_id,
        "resource_group": r.resource_group,
        "condition": r.condition,
        "longer_than_minutes": r.longer_than_minutes,
        "ports": r.ports,
        "approvals_needed": r.approvals_needed,
        "approvers": [n.strip() for n in r.approvers.splitlines() if n.strip()],
        "pending_minutes": r.pending_minutes,
        "extension_minutes": r.extension_minutes,
        "summary": r.summary,
    }
