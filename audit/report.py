"""The audit report, read from the archive (`archive.py`): Azure's JIT operations, each with the VMs it
touched and its details.

What a row shows as VMs, ports, source, justification and window comes from records the chain covers (the
portal's trail event the operation's correlation id names) or from Azure's own archived data (its request
history and configurations) — never from a row of the portal's that can be edited without detection.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, NamedTuple

from django.db import connections
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.database import as_stored_text
from core.fates import ENDED_EARLY, azure_fate
from requests_app.states import ItemStatus
from requests_app.status import portal_fate
from trail.models import AuditEvent, AuditScope

from . import events as events_catalogue
from .archive import BATCH, CONFIGURATIONS, HEALTH_CHECK, HISTORY, PORTAL
from .models import ArchivedEvent, ArchivedRequest, ArchivedTouch
from .scope import ReadScope

OPERATIONS = {"initiate": "/initiate/action", "write": "/write", "delete": "/delete"}
# Filters on what an operation meant, whatever Azure's operation was (a removal is often a write without the VM).
MEANINGS = {
    "grant": (events_catalogue.GRANTED.words,),
    "extension": (events_catalogue.EXTENDED.words,),
    "end": (events_catalogue.ENDED.words,),
    "enable": (events_catalogue.ENABLED.words,),
    "remove": (events_catalogue.REMOVED.words,),
    "exposure": (events_catalogue.EXPOSURE_STARTED.words, events_catalogue.EXPOSURE_ENDED.words),
}


class ReportRow(NamedTuple):  # a tuple, not a dataclass: a CSV builds a million of them
    event: Any  # a row of EVENT_FIELDS from `matching` (or an ArchivedEvent): the same attribute names
    subscription_name: str
    vms: str = ""
    ports: str = ""
    source: str = ""
    justification: str = ""
    window: str = ""
    change: str = ""  # per VM: "enabled on dev-08: …", "removed from web-02", "dev-01: … → …"
    fate: str = ""  # of a request: open, expired, replaced by a newer request, refused, failed
    joined_from: str = ""  # "portal", "Azure request history", "archived configurations" or ""
    approver: str = ""  # who approved (or denied) the request the portal opened, from the trail
    decided: datetime | None = None  # when the last of them decided
    comment: str = ""  # what they said
    break_glass: str = ""  # the reason given for opening without the approval a rule asked for
    meaning: str = ""  # the portal's words beside Azure's operation name: "access granted", "ended early by …"
    requested_by: str = ""  # who asked for the access (Azure's caller is whoever's token opened it)
    request: str = ""  # the portal request it opened or ended: "request 12"


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


# What a row reads of an event and of each VM it touched: plain tuples, not models, so that a CSV of a million
# rows costs a few microseconds a row (`make bench`).
EVENT_FIELDS = (
    "id",
    "event_id",
    "correlation_id",
    "operation",
    "operation_name",
    "status",
    "category",
    "level",
    "time",
    "subscription_id",
    "caller",
    "resource_type",
    "resource_group",
    "resource_id",
    "scope_subscription",
    "explained_by",
    "trail_seq",
    "meaning",
    "requested_by",
    "portal_request",
)


def matching(f: Filters, scope: ReadScope, vm_id: str = "") -> tuple[QuerySet, int]:
    """The archived events the filters select within the viewer's read scope, newest first, and how many the
    scope hides. `vm_id` keeps exactly the events that touched that VM (its activity page)."""
    events = ArchivedEvent.objects.filter(time__range=(f.start, f.end))
    if f.subscription:
        events = events.filter(scope_subscription=f.subscription.lower())
    if f.resource_group:
        events = events.filter(scope_group=f.resource_group.lower())
    if f.person:  # who opened it, or who asked for it (an approver's token opens a requester's request)
        events = events.filter(Q(caller__icontains=f.person) | Q(requested_by__icontains=f.person))
    if f.operation in OPERATIONS:
        events = events.filter(operation__iendswith=OPERATIONS[f.operation])
    elif f.operation in MEANINGS:
        events = events.filter(meaning__in=MEANINGS[f.operation])
    if f.vm:
        events = events.filter(pk__in=ArchivedTouch.objects.filter(vm_name__icontains=f.vm).values("event_id"))
    if vm_id:
        events = events.filter(pk__in=ArchivedTouch.objects.filter(vm_id=vm_id.lower()).values("event_id"))
    allowed = scope.allowed("scope_subscription", "scope_group")
    hidden = events.exclude(allowed).count()
    if not (f.vm or vm_id or f.person or f.operation):
        hidden += not_archived_yet(f, scope)
    return events.filter(allowed).order_by("-time", "-id").values_list(*EVENT_FIELDS, named=True), hidden


# The portal's own changes in Azure, each an Activity Log operation per policy it wrote.
CHANGES = ("access.request", "access.open", "access.end", "jit.enable", "jit.edit", "jit.remove")


def not_archived_yet(f: Filters, scope: ReadScope) -> int:
    """The portal's own changes outside the viewer's read scope that the archive does not hold yet: the viewer's
    reads cannot collect them (Azure will not show them to her), so without these the count of hidden rows would
    wait for someone else's read. One per resource group each names (a policy per group and region). Counted only
    as far as the range, subscription and resource group filters go (the others need the archived rows)."""
    outside = (
        AuditScope.objects.exclude(scope.allowed())
        .filter(event__action__in=CHANGES, event__created__range=(f.start, f.end))
        .exclude(event__correlation_id="")
    )
    if f.subscription:
        outside = outside.filter(subscription_id=f.subscription.lower())
    if f.resource_group:
        outside = outside.filter(resource_group=f.resource_group.lower())
    # The few changes outside the scope first, then which of them are archived (by the correlation id's index): a
    # NOT IN over every archived event would cost each report view a scan of the archive.
    pending = list(outside.values_list("event__correlation_id", flat=True))
    archived = set()
    for first in range(0, len(pending), BATCH):
        archived.update(
            ArchivedEvent.objects.filter(correlation_id__in=pending[first : first + BATCH]).values_list(
                "correlation_id", flat=True
            )
        )
    return sum(1 for correlation in pending if correlation not in archived)


TOUCH_FIELDS = ("event_id", "vm_name", "line", "request_id")
REQUEST_FIELDS = ("id", "port", "start", "end", "source", "justification", "status", "reason")
Touch = tuple[Any, Any]  # a VM an event touched (its name and line), with Azure's request line for it if any
EventRow = namedtuple("EventRow", EVENT_FIELDS)  # what a row of `matching` is, read by `chunks` without the ORM
TouchRow = namedtuple("TouchRow", TOUCH_FIELDS)


def report_rows(
    events: Iterable, names: dict[str, str], scope: ReadScope, vm_id: str = "", azure_now: datetime | None = None
) -> list[ReportRow]:
    """Report rows for a batch of events (a page, or a chunk of a CSV; rows of `matching`, or models): four
    queries at most whatever its size. With `vm_id` (its activity page), a row tells only what the event did
    to that VM. The portal's trail explains a row only when the viewer may read every scope that trail event
    names (a request may span groups); otherwise Azure's own archived history does. Whether a window is still
    open is judged by `azure_now`, Azure's clock (the viewer's inventory's), as My access judges it."""
    events = list(events)
    found = list(map(TouchRow._make, touches_of([e.id for e in events], vm_id))) if events else []
    # Azure's request lines apart, for the touches that have one (a policy change has none: no query then).
    lines = {
        r.id: r
        for r in ArchivedRequest.objects.filter(id__in={t.request_id for t in found if t.request_id}).values_list(
            *REQUEST_FIELDS, named=True
        )
    }
    touches: dict[int, list[Touch]] = defaultdict(list)
    for touch in found:
        touches[touch.event_id].append((touch, lines.get(touch.request_id)))
    seqs = [e.trail_seq for e in events if e.trail_seq]
    trail = {e.seq: e for e in scope.visible(AuditEvent.objects.filter(seq__in=seqs))[0]} if seqs else {}
    decisions = _decisions([t.details["request"] for t in trail.values() if isinstance(t.details.get("request"), int)])
    now = azure_now or timezone.now()
    return [
        _row(
            e, names.get(e.scope_subscription, e.subscription_id), touches[e.id], trail.get(e.trail_seq), now, decisions
        )
        for e in events
    ]


# Approvers, when the last decided, their comments, the (VM id, port) pairs ended early.
Decision = tuple[str, datetime | None, str, frozenset[tuple[str, int]]]


def _decisions(requests: list[int]) -> dict[int, Decision]:
    """Who approved or denied each request, when and why: from the trail's sealed events, not editable rows."""
    if not requests:
        return {}
    found: dict[int, list[AuditEvent]] = defaultdict(list)
    ended: dict[int, set[tuple[str, int]]] = defaultdict(set)
    for event in (
        AuditEvent.objects.filter(
            action__in=("access.approve", "access.deny", "access.end"), details__request__in=requests
        )
        .order_by("seq")
        .only("action", "outcome", "actor_name", "created", "details")
    ):
        if event.action == "access.end":
            if event.outcome == ENDED_EARLY:
                ended[event.details["request"]].update(
                    (str(i["vm"]).lower(), int(i["port"])) for i in event.details.get("items", [])
                )
            continue
        found[event.details["request"]].append(event)
    return {
        request: (
            ", ".join(e.actor_name for e in found[request]),
            found[request][-1].created if found[request] else None,
            " | ".join(f"{e.actor_name}: {e.details['comment']}" for e in found[request] if e.details.get("comment")),
            frozenset(ended.get(request, ())),
        )
        for request in set(found) | set(ended)
    }


def touches_of(event_ids: list[int], vm_id: str) -> list[tuple]:
    """TOUCH_FIELDS of the touches of these events (of one VM with `vm_id`), by VM name. Plain SQL: the ORM prepares each of a
    CSV chunk's 2,000 ids one by one, which cost a CSV about a tenth of its time (`make bench`)."""
    connection = connections[ArchivedTouch.objects.db]
    q = connection.ops.quote_name
    sql = (
        f"SELECT {', '.join(q(c) for c in ('event_id', 'vm_name', 'line', 'request_id'))} "
        f"FROM {q(ArchivedTouch._meta.db_table)} WHERE {q('event_id')} IN ({', '.join(['%s'] * len(event_ids))})"
    )
    params: list = list(event_ids)
    if vm_id:
        sql += f" AND {q('vm_id')} = %s"
        params.append(vm_id.lower())
    with connection.cursor() as cursor:
        cursor.execute(sql + f" ORDER BY {q('vm_name')}, {q('id')}", params)
        return cursor.fetchall()


_JOINED = frozenset((PORTAL, HISTORY, CONFIGURATIONS, HEALTH_CHECK))
INITIATE = "/initiate/action"


def change_of(touches: list[tuple[str, str]], explained_by: str) -> tuple[str, str, str, str, str, str, str, str]:
    """A policy change's columns after the subscription (vms … joined_from), from its touches' (VM name, line)."""
    if len(touches) == 1:  # nearly always: a CSV builds a million of these
        vms, change = touches[0]
    else:
        vms, change = ", ".join(dict.fromkeys(name for name, _ in touches)), "; ".join(line for _, line in touches)
    if change and explained_by == CONFIGURATIONS:
        change += " (changed outside the portal)"
    return vms, "", "", "", "", change, "", explained_by if explained_by in _JOINED else ""


def meaning_of(operation: str, meaning: str, caller: str, extends: int | None = None) -> str:
    """The portal's words for what an operation meant (stored when it was explained, else from Azure's operation),
    with who ended it early or which request an extension extends."""
    meaning = meaning or (
        "access granted"
        if operation.endswith(INITIATE)
        else events_catalogue.REMOVED.words
        if operation.lower().endswith("/delete")
        else events_catalogue.CHANGED.words
    )
    if meaning == events_catalogue.ENDED.words:
        return f"ended early by {caller}"
    if meaning == events_catalogue.EXTENDED.words and extends:
        return f"extension of request {extends}"
    return meaning


def _pairs_and_window(start: datetime, pairs: list[tuple[str, int, datetime]]) -> tuple[str, str]:
    """ "dev-02:5986, dev-06:22", and one window for all, or each pair's where they differ."""
    pairs = sorted(set(pairs), key=lambda p: (p[0], p[1]))
    named = ", ".join(f"{vm}:{port}" for vm, port, _ in pairs)
    if len({end for _, _, end in pairs}) <= 1:
        return named, _window(start, pairs[0][2]) if pairs else ""
    return named, "; ".join(f"{vm}:{port} {_window(start, end)}" for vm, port, end in pairs)


def _row(
    event, name: str, touches: list[Touch], trail: AuditEvent | None, now: datetime, decisions: dict[int, Decision]
) -> ReportRow:
    who = {
        "requested_by": event.requested_by or event.caller,
        "request": f"request {event.portal_request}" if event.portal_request else "",
    }
    if not event.operation.endswith(INITIATE):
        return ReportRow(
            event,
            name,
            *change_of([(t.vm_name, t.line) for t, _ in touches], event.explained_by),
            meaning=meaning_of(event.operation, event.meaning, event.caller),
            **who,
        )
    vms = touches[0][0].vm_name if len(touches) == 1 else ", ".join(dict.fromkeys(t.vm_name for t, _ in touches))
    base = {
        "event": event,
        "subscription_name": name,
        "vms": vms,
        "joined_from": event.explained_by if event.explained_by in _JOINED else "",
        **who,
    }
    if trail is not None:
        touched = {t.vm_name.lower() for t, _ in touches}
        items = [
            i
            for i in trail.details.get("items", [])
            if i.get("correlation_id") == event.correlation_id and i["vm"].rsplit("/", 1)[-1].lower() in touched
        ]
        fates = {portal_fate(i["status"]) for i in items if i.get("status") and i["status"] != ItemStatus.OPENED}
        approver, decided, comment, ended = decisions.get(trail.details.get("request"), ("", None, "", frozenset()))
        if trail.action != "access.end":
            mine = {(str(i["vm"]).lower(), int(i["port"])) for i in items}
            if mine and mine <= ended:
                fates = {ENDED_EARLY}
            elif mine & ended:  # an early end of some of its ports (one row of My access)
                fates = {f"{ENDED_EARLY} ({len(mine & ended)} of {len(mine)} ports)"}
        ports, window = _pairs_and_window(
            event.time, [(i["vm"].rsplit("/", 1)[-1], int(i["port"]), datetime.fromisoformat(i["end"])) for i in items]
        )
        return ReportRow(
            **base,
            approver=approver,
            decided=decided,
            comment=comment,
            break_glass=trail.details.get("break_glass", ""),
            ports=ports,
            window=window,
            source=", ".join(dict.fromkeys(i.get("source") or trail.details.get("source", "") for i in items)),
            justification=trail.details.get("justification", ""),
            fate=", ".join(sorted(fates)) or _fate(touches, now),
            meaning=meaning_of(event.operation, event.meaning, event.caller, trail.details.get("extends")),
        )
    meaning = meaning_of(event.operation, event.meaning, event.caller)
    lines = [(t, line) for t, line in touches if line is not None]
    if not lines:
        return ReportRow(**{**base, "joined_from": ""}, meaning=meaning)
    base["joined_from"] = HISTORY
    ports, window = _pairs_and_window(lines[0][1].start, [(t.vm_name, x.port, x.end) for t, x in lines])
    return ReportRow(
        **base,
        ports=ports,
        window=window,
        source=", ".join(dict.fromkeys(x.source for _, x in lines)),
        justification=lines[0][1].justification,
        fate=_fate(touches, now),
        meaning=meaning,
    )


def _fate(touches: list[Touch], now: datetime) -> str:
    fates = [azure_fate(x.status, x.reason, x.end, now) for _, x in touches if x is not None]
    return ", ".join(dict.fromkeys(fates))


_AT = EVENT_FIELDS.index("time")


def chunks(events: QuerySet, size: int = 2000) -> Iterator[list[tuple]]:
    """The rows of `events` (from `matching`) as EVENT_FIELDS tuples, a chunk at a time: one query read through
    `QuerySet.iterator` (a server-side cursor where the database has them), so a CSV of any length in flat
    memory. The time comes as the database keeps it (`as_stored_text`): `aware` makes it a datetime."""
    fields: list = list(EVENT_FIELDS)
    fields[_AT] = as_stored_text("time", events.db)
    rows = events.values_list(*fields).iterator(chunk_size=size)
    while chunk := list(islice(rows, size)):
        yield chunk


def aware(raw: tuple) -> EventRow:
    """A row of `chunks` as `matching` would give it."""
    return EventRow._make(raw[:_AT] + (_moment(raw[_AT]),) + raw[_AT + 1 :])


def _moment(value: datetime | str) -> datetime:
    """A DateTimeField's value as the database gives it: an aware datetime (PostgreSQL) or text in UTC (SQLite)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
