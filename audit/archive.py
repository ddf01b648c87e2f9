"""The archive of Azure's JIT history: collecting it (idempotent, only the new tail), explaining each event
(which VMs it touched and how), and purging it after the retention period.

Who collects: every auditor's and admin's own reads (their credential, their read scope), and the optional
read-only app identity (`collect_as_app`, for the worker). Each collector keeps its own cursor per
subscription: the Activity Log is read from that cursor (less an overlap, for events Azure writes late),
and Azure's event id (eventDataId) makes a second copy of an event a no-op."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import gateway, justifications
from core.actor import Actor
from core.database import renew_statistics
from core.gateway import ActivityEvent, JitPolicy, Subscription
from core.leases import Busy, hold
from requests_app.models import AccessRequestItem
from trail.chain import record
from trail.models import AuditEvent, AuditScope
from vms.models import Exposure
from vms.snapshots import port_data
from vms.verdicts import LABELS

from . import events
from .difference import per_vm
from .models import (
    ArchiveCursor,
    ArchivedConfiguration,
    ArchivedEvent,
    ArchivedRequest,
    ArchivedTouch,
    ExportManifest,
)

AZURE_RETENTION = timedelta(days=90)
OVERLAP = timedelta(minutes=15)  # Azure writes Activity Log events minutes late: read that much again
MATCH_WINDOW = timedelta(seconds=60)  # an initiate event and the request it made start within this
GIVE_UP_AFTER = timedelta(days=1)  # an event still unexplained this long after it happened stays so
PORTAL, HISTORY, CONFIGURATIONS = "portal", "Azure request history", "archived configurations"
APP_READ_LATELY = "audit-app-read-lately"  # no lease claimed at each read while this says the app read just now
APP_COLLECTION = "audit-archive-collection"  # the lease the app identity's collections hold, worker or read
HEALTH_CHECK = "JIT health check"  # what explains an exposure window's start and end: the portal's own reading
NARROW_READS = 3  # resource groups and regions of a subscription read one by one rather than the whole subscription
BATCH = 10_000  # ids per query: below SQLite's limit of 32,766 parameters


@dataclass(frozen=True)
class Collected:
    new_events: int
    unread: tuple[tuple[str, str], ...]  # (subscription name, why it could not be read)
    unread_ids: frozenset[str] = frozenset()  # those subscriptions' ids, lower case


def collect(
    reader: gateway.UserCredential | gateway.AppCredential, collector: str, subscriptions: list[Subscription]
) -> Collected:
    """Fetch each subscription's new Activity Log tail and its policies (configuration and request history)
    into the archive, then link the events not yet explained to the VMs they touched (`link_touches`). Running it twice stores nothing twice."""
    now = timezone.now()
    cursors = dict(ArchiveCursor.objects.filter(collector=collector).values_list("subscription_id", "until"))
    oldest = now - AZURE_RETENTION
    wanted = [
        (s, max(cursors[key] - OVERLAP, oldest) if (key := s.subscription_id.lower()) in cursors else oldest)
        for s in subscriptions
    ]
    tails = gateway.jit_activity_since(reader, wanted)
    read = [t for t in tails if not t.error]
    with transaction.atomic():
        fresh = _store_events([e for t in read for e in t.events])
    policies = _policies_again(reader, read, fresh, cursors)
    seen = max((t.azure_now for t in read if t.azure_now), default=now)
    with transaction.atomic():
        _store_policies(policies, seen)
        for tail in read:
            ArchiveCursor.objects.update_or_create(
                collector=collector,
                subscription_id=tail.subscription.subscription_id.lower(),
                defaults={"until": tail.azure_now or now},
            )
    link_touches(
        ArchivedEvent.objects.filter(
            explained_by="", scope_subscription__in=[t.subscription.subscription_id.lower() for t in read]
        )
    )
    if fresh:
        restate()
    return Collected(
        len(fresh),
        tuple((t.subscription.display_name, t.error) for t in tails if t.error),
        frozenset(t.subscription.subscription_id.lower() for t in tails if t.error),
    )


def _policies_again(
    reader: gateway.UserCredential | gateway.AppCredential,
    read: list[gateway.ActivityTail],
    fresh: list[ActivityEvent],
    cursors: dict[str, datetime],
) -> list[JitPolicy]:
    """The policies to archive again. A policy changes only through an operation the Activity Log records (a
    port's expiry does not, and its end time tells it), so they are read only where new events arrived, and at
    a collector's first read of a subscription (the baseline later changes are compared with). Azure returns a
    policy with its whole request history: where the new events name at most NARROW_READS resource groups and
    regions of a subscription, only those are read, so that a few new events cost their policies' history,
    not every policy's of the subscription."""
    places: dict[str, set[tuple[str, str, str]] | None] = {}  # None: the whole subscription
    for event in fresh:
        sub, ref = event.subscription_id.lower(), gateway.parse_policy_id(event.resource_id)
        known = places.setdefault(sub, set())
        if ref is None or ref.subscription_id != sub:
            places[sub] = None
        elif known is not None:
            known.add((ref.subscription_id, ref.resource_group, ref.location))
    whole, narrow = [], []
    for tail in read:
        sub = tail.subscription.subscription_id
        named = places.get(sub.lower(), set())
        if sub.lower() not in cursors or named is None or len(named) > NARROW_READS:
            whole.append(sub)
        else:
            narrow += sorted(named)
    return (gateway.list_policies_with(reader, whole)[0] if whole else []) + (
        gateway.list_policies_in(reader, narrow)[0] if narrow else []
    )


def collect_due(
    reader: gateway.UserCredential | gateway.AppCredential, collector: str, subscriptions: list[Subscription]
) -> Collected:
    """A person's read: `collect` only the subscriptions whose tail this collector has not read within
    AUDIT_COLLECT_SECONDS, or about which the portal's trail has recorded a change since (the portal's own
    requests and policy changes show at once; a change made elsewhere within that many seconds). The page
    reads the archive as collected and says up to when. A subscription that could not be read is tried again
    at the next view."""
    take_exposures()
    keys = {f"audit-collected:{collector}:{s.subscription_id.lower()}": s for s in subscriptions}
    read = cache.get_many(list(keys)) if settings.AUDIT_COLLECT_SECONDS else {}
    written = _written_since(read, keys)  # one query for all: it was one per subscription, 50 per view
    due = [s for key, s in keys.items() if key not in read or s.subscription_id.lower() in written]
    if not due:
        return Collected(0, ())
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0  # before reading Azure
    collected = collect(reader, collector, due)
    if settings.AUDIT_COLLECT_SECONDS:
        cache.set_many(
            {
                key: head
                for key, s in keys.items()
                if s in due and s.subscription_id.lower() not in collected.unread_ids
            },
            timeout=settings.AUDIT_COLLECT_SECONDS,
        )
    return collected


def _written_since(read: dict[str, int], keys: dict[str, Subscription]) -> set[str]:
    """The subscriptions (lower case) the trail names in an event after the trail's head at their last read."""
    if not read:
        return set()
    since = {keys[key].subscription_id.lower(): head for key, head in read.items()}
    return {
        sub
        for sub, seq in AuditScope.objects.filter(
            event__seq__gt=min(since.values()), subscription_id__in=list(since)
        ).values_list("subscription_id", "event__seq")
        if seq > since[sub]
    }


def collect_app_due() -> Collected | None:
    """At a person's read, the read-only app identity's collection too (at most once every AUDIT_COLLECT_SECONDS per
    subscription for everyone, as `collect_due`), when one is configured: a scoped auditor's own read cannot archive
    what Azure will not show her, so without it the rows her scope hides would be counted only once someone else, or
    the worker, had collected them. None when no identity is configured, or while the worker collects."""
    reader = gateway.app_reader()
    if reader is None or (settings.AUDIT_COLLECT_SECONDS and cache.get(APP_READ_LATELY)):
        return None  # (the portal's own changes since are counted from the trail meanwhile: `report.not_archived_yet`)
    subscriptions = cache.get_or_set(
        "audit-app-subscriptions", lambda: gateway.list_subscriptions_with(reader), settings.INVENTORY_CACHE_SECONDS
    )
    try:
        with hold(APP_COLLECTION, "the archive collector", settings.POLICY_LEASE_SECONDS, wait=0):
            collected = collect_due(reader, "app", subscriptions)
    except Busy:
        return None  # the worker is collecting as the app right now
    if settings.AUDIT_COLLECT_SECONDS and not collected.unread:
        cache.set(APP_READ_LATELY, True, settings.AUDIT_COLLECT_SECONDS)
    return collected


def collect_as_app() -> Collected | None:
    """The worker's job: collect every subscription the read-only app identity can read; None when it is not
    configured (AUDIT_READER_CLIENT_ID/SECRET)."""
    take_exposures()
    reader = gateway.app_reader()
    if reader is None:
        return None
    return collect(reader, "app", gateway.list_subscriptions_with(reader))


STARTED, ENDED = 1, 2  # Exposure.archived: its start archived; its end too


def take_exposures() -> int:
    """Archive each exposure window's start and end (vms.Exposure, kept by the health check's reads) as rows of the
    report: scoped like Azure's events by the VM's subscription and resource group, purged with them, in the CSV and
    JSON lines with their event codes. Idempotent (keyed by the window's id); one indexed query when nothing is new.
    How many rows it archived."""
    rows: list[tuple[ArchivedEvent, Exposure]] = []
    taken = {STARTED: [], ENDED: []}
    for exposure in Exposure.objects.filter(archived__lt=ENDED).exclude(archived=STARTED, ended=None):
        if exposure.archived < STARTED:
            rows.append((_exposure_event(exposure, started=True), exposure))
        if exposure.ended is not None:
            rows.append((_exposure_event(exposure, started=False), exposure))
        taken[ENDED if exposure.ended is not None else STARTED].append(exposure.pk)
    if not rows:
        return 0
    with transaction.atomic():
        ArchivedEvent.objects.bulk_create([event for event, _ in rows], ignore_conflicts=True)
        stored = {e.event_id: e.pk for e in ArchivedEvent.objects.filter(event_id__in=[e.event_id for e, _ in rows])}
        ArchivedTouch.objects.filter(event_id__in=stored.values()).delete()  # a second run rewrites, never doubles
        ArchivedTouch.objects.bulk_create(
            [
                ArchivedTouch(
                    event_id=stored[event.event_id],
                    vm_id=exposure.vm_id.lower(),
                    vm_name=exposure.vm_name,
                    line=_exposure_line(exposure, event),
                )
                for event, exposure in rows
                if event.event_id in stored
            ]
        )
        for state, pks in taken.items():
            Exposure.objects.filter(pk__in=pks).update(archived=state)
    return len(rows)


def _exposure_event(exposure: Exposure, started: bool) -> ArchivedEvent:
    """An exposure window's start or end as a row of the archive, in the shape of Azure's Activity Log columns."""
    kind = events.EXPOSURE_STARTED if started else events.EXPOSURE_ENDED
    level = ("Critical" if exposure.severity == "critical" else "Warning") if started else "Informational"
    return ArchivedEvent(
        event_id=f"jitportal-exposure-{exposure.pk}-{'start' if started else 'end'}",
        correlation_id="",
        operation=f"jitportal/health/exposure/{'start' if started else 'end'}",
        operation_name=f"Exposure {'started' if started else 'ended'} (JIT health check)",
        status="Active" if started else "Resolved",
        category="JIT health",
        level=level,
        time=exposure.started if started else exposure.ended,
        subscription_id=exposure.subscription_id,
        caller=HEALTH_CHECK,
        resource_type="Microsoft.Compute/virtualMachines",
        resource_group=exposure.resource_group,
        resource_id=exposure.vm_id,
        scope_subscription=exposure.subscription_id,
        scope_group=exposure.resource_group,
        explained_by=HEALTH_CHECK,
        meaning=kind.words,
    )


def _exposure_line(exposure: Exposure, event: ArchivedEvent) -> str:
    """ "port 22 bypassed (critical): allow-ssh, …", and on its end the window it closes."""
    state = LABELS.get(exposure.state, exposure.state).lower() + (
        f" ({exposure.severity})" if exposure.severity else ""
    )
    rule = f" [rule {exposure.rule_id}]" if exposure.rule_id else ""
    if event.meaning == events.EXPOSURE_STARTED.words:
        return f"port {exposure.port} {state}: {exposure.detail}{rule}"
    return (
        f"port {exposure.port} no longer {state}; exposed {exposure.started:%Y-%m-%dT%H:%M:%SZ}/"
        f"{exposure.ended:%Y-%m-%dT%H:%M:%SZ}: {exposure.detail}{rule}"
    )


def freshness(subscription_ids: list[str]) -> dict[str, datetime | None]:
    """Per subscription (lower case), up to when anyone's collection has read its Activity Log."""
    found: dict[str, datetime | None] = {s.lower(): None for s in subscription_ids}
    for sub, until in ArchiveCursor.objects.filter(subscription_id__in=list(found)).values_list(
        "subscription_id", "until"
    ):
        found[sub] = max(until, found[sub]) if found[sub] else until
    return found


def _store_events(events: list[ActivityEvent]) -> list[ActivityEvent]:
    """Store the events not archived yet; return them."""
    ids = [e.event_id for e in events]
    known = {
        found
        for i in range(0, len(ids), BATCH)  # in batches: SQLite takes at most 32,766 parameters
        for found in ArchivedEvent.objects.filter(event_id__in=ids[i : i + BATCH]).values_list("event_id", flat=True)
    }
    fresh = {e.event_id: e for e in events if e.event_id and e.event_id not in known}
    ArchivedEvent.objects.bulk_create(
        [
            ArchivedEvent(
                event_id=e.event_id,
                correlation_id=e.correlation_id,
                operation=e.operation,
                operation_name=e.operation_name,
                status=e.status,
                category=e.category,
                level=e.level,
                time=e.time,
                subscription_id=e.subscription_id,
                caller=e.caller,
                resource_type=e.resource_type,
                resource_group=e.resource_group,
                resource_id=e.resource_id,
                client_ip=e.client_ip,
                scope_subscription=e.subscription_id.lower(),
                scope_group=e.resource_group.lower(),
            )
            for e in fresh.values()
        ],
        batch_size=BATCH // 20,
        ignore_conflicts=True,
    )
    return list(fresh.values())


def _configuration(policy: JitPolicy) -> dict[str, list]:
    return {vm.vm_id.lower(): port_data(vm.ports) for vm in policy.vms}


def _store_policies(policies: list[JitPolicy], seen: datetime) -> None:
    """A configuration row when a policy's VMs or ports changed; its request lines when its history did."""
    ids = [p.policy_id.lower() for p in policies]
    latest: dict[str, ArchivedConfiguration] = {}
    for row in ArchivedConfiguration.objects.filter(policy_id__in=ids).order_by("seen", "id"):
        latest[row.policy_id] = row
    for policy in policies:
        pid, vms = policy.policy_id.lower(), _configuration(policy)
        digest = _history_mark(policy)
        last = latest.get(pid)
        if last is None or last.vms != vms or last.requests_digest != digest:
            ArchivedConfiguration.objects.create(policy_id=pid, seen=seen, vms=vms, requests_digest=digest)
        if last is None or last.requests_digest != digest:
            _store_requests(pid, policy)


def _history_mark(policy: JitPolicy) -> str:
    """What can differ in a policy's history between two reads: requests added or trimmed (their number, the
    first and last start) and open ports closing. A line Azure shows as ended stays so (it revokes, never
    reopens), so ended ones need no comparing: hashing the whole history cost a second collection a second per
    100,000 past requests, where its cost should follow the new events."""
    starts = [r.start for r in policy.requests]
    still_open = [
        (r.start.isoformat(), vm.vm_id.lower(), p.number, p.status, p.reason, p.end.isoformat())
        for r in policy.requests
        for vm in r.vms
        for p in vm.ports
        if p.status == "Initiated"
    ]
    shape = (len(starts), min(starts, default=None), max(starts, default=None), sorted(still_open))
    return hashlib.sha256(repr(shape).encode()).hexdigest()


def _store_requests(pid: str, policy: JitPolicy) -> None:
    """New lines are added, and lines whose status or end changed updated: the cost follows what changed, not
    the policy's whole history."""
    archived = ArchivedRequest.objects.filter(policy_id=pid)
    newest = archived.order_by("-start").values_list("start", flat=True).first()
    # A line archived as ended stays so (Azure revokes, never reopens): only open ones and new ones can differ.
    # Older lines not archived were purged (every collection stores a policy's whole history), not new.
    known = {
        (vm, port, start): (pk, status, reason, end)
        for pk, vm, port, start, status, reason, end in archived.filter(
            Q(status="Initiated") | Q(start=newest)
        ).values_list("pk", "vm_id", "port", "start", "status", "reason", "end")
    }
    known_starts = {start for _, _, start in known}
    new, changed = [], []
    for request in policy.requests:
        if newest is not None and request.start < newest and request.start not in known_starts:
            continue  # archived as ended, or purged
        for vm in request.vms:
            for port in vm.ports:
                before = known.get((vm.vm_id.lower(), port.number, request.start))
                if before is None and newest is not None and request.start < newest:
                    continue
                if before is not None and before[1:] == (port.status, port.reason, port.end):
                    continue
                line = ArchivedRequest(
                    policy_id=pid,
                    vm_id=vm.vm_id.lower(),
                    port=port.number,
                    start=request.start,
                    vm_name=vm.vm_id.rsplit("/", 1)[-1],
                    end=port.end,
                    requestor=request.requestor,
                    source=port.source,
                    justification=request.justification,
                    status=port.status,
                    reason=port.reason,
                    pk=before[0] if before else None,
                )
                (changed if before else new).append(line)
    ArchivedRequest.objects.bulk_create(new, batch_size=BATCH // 20, ignore_conflicts=True)
    ArchivedRequest.objects.bulk_update(changed, ["status", "reason", "end"], batch_size=500)


def restate() -> None:
    """Renew the archive's statistics after it grew or shrank. Without them SQLite takes every subscription and
    resource group of a read scope as selective and sorts all the rows it selects: a CSV over most of a
    1,000,000-event archive spent a sixth of its time sorting, where walking the time index in order costs
    nothing (`make bench`)."""
    renew_statistics(ArchivedEvent, ArchivedTouch, ArchivedRequest)


def link_touches(events) -> None:
    """Find which VMs each event touched and how, oldest first (so that each request is claimed once). A
    transaction per few hundred events: one commit each would cost a disk flush per event, one for all would
    hold SQLite's write lock for the whole of a first collection."""
    now = timezone.now()
    pending = list(events.order_by("time", "id"))
    for first in range(0, len(pending), 500):
        with transaction.atomic():
            for event in pending[first : first + 500]:
                _explain_one(event, now)


def _explain_one(event: ArchivedEvent, now: datetime) -> None:
    found = _by_portal(event) or _by_azure(event)
    touches: list[ArchivedTouch] = []
    if found:
        event.explained_by, touches = found
        ArchivedTouch.objects.bulk_create(touches)
    elif event.time < now - GIVE_UP_AFTER or event.status == "Failed":
        event.explained_by = "not found"
    else:
        return
    event.meaning, event.requested_by, event.portal_request = meaning(event, touches)
    event.save(update_fields=["explained_by", "trail_seq", "meaning", "requested_by", "portal_request"])


def meaning(event: ArchivedEvent, touches: list[ArchivedTouch]) -> tuple[str, str, int | None]:
    """What an operation meant in the portal's words (beside Azure's operation name), who asked for it (Azure's
    caller is whoever's token opened it: an approver, or who ended it early), and the portal request it opened or
    ended. Ends and extensions are not new grants; a write that only takes VMs out of a policy is a removal."""
    if _is_initiate(event):
        trail = (
            AuditEvent.objects.filter(seq=event.trail_seq).only("action", "actor_name", "details").first()
            if event.trail_seq
            else None
        )
        if trail is not None:
            request = trail.details.get("request")
            if trail.action == "access.end":  # of a portal request, or of a window opened outside the portal
                return events.ENDED.words, trail.details.get("opened_outside_by") or _requester_of(request), request
            kind = events.EXTENDED if trail.details.get("extends") else events.GRANTED
            return kind.words, trail.details.get("requester") or trail.actor_name, request
        line = next((t.request for t in touches if t.request is not None), None)
        said = justifications.read(line.justification) if line is not None else None
        if said is not None and said.kind == "ended":  # the portal's own words for an early end
            return events.ENDED.words, said.requester, said.request
        return events.GRANTED.words, line.requestor if line is not None else event.caller, None
    return removal_or_change(event.operation, [t.line for t in touches]).words, event.caller, None


def removal_or_change(operation: str, lines: list[str]) -> events.Kind:
    if operation.lower().endswith("/delete") or (lines and all(x.startswith("removed from ") for x in lines)):
        return events.REMOVED
    if lines and all(x.startswith("enabled on ") for x in lines):
        return events.ENABLED
    return events.CHANGED


def _requester_of(request: int | None) -> str:
    """Who made a portal request, from its opening on the trail (sealed), not from an editable row."""
    if request is None:
        return ""
    opening = (
        AuditEvent.objects.filter(action__in=OPENINGS, details__request=request)
        .order_by("seq")
        .values_list("details", flat=True)
        .first()
    )
    return (opening or {}).get("requester", "") if isinstance(opening, dict) else ""


def _touch(event: ArchivedEvent, vm_id: str, line: str, request: ArchivedRequest | None = None) -> ArchivedTouch:
    return ArchivedTouch(event=event, vm_id=vm_id.lower(), vm_name=vm_id.rsplit("/", 1)[-1], line=line, request=request)


def _is_initiate(event: ArchivedEvent) -> bool:
    return event.operation.endswith("/initiate/action")


# The trail events that carry an initiate's items: a request opened at once, one an approver opened, an early end.
OPENINGS = ("access.request", "access.open", "access.settle")  # the last: a lost answer Azure applied late


def _by_portal(event: ArchivedEvent) -> tuple[str, list[ArchivedTouch]] | None:
    """The portal's own trail event with the same correlation id: the portal sends its own on every change."""
    if not event.correlation_id:
        return None
    if _is_initiate(event):
        trail = _opening(event.correlation_id)
        if not trail:
            return None
        items = sorted(
            (i["vm"], int(i["port"]))
            for i in trail.details.get("items", [])
            if i.get("correlation_id") == event.correlation_id
        )
        touches = [_touch(event, vm, str(port), _line_of(event, vm, port)) for vm, port in items]
    else:
        trail = (
            AuditEvent.objects.filter(correlation_id=event.correlation_id)
            .exclude(action__in=(*OPENINGS, "access.end"))
            .order_by("-seq")
            .first()
        )
        if not trail or not isinstance(trail.details.get("before"), dict):
            return None
        touches = [
            _touch(event, vm, line) for vm, line in per_vm(trail.details["before"], trail.details.get("after") or {})
        ]
    event.trail_seq = trail.seq
    return PORTAL, touches


def _opening(correlation_id: str) -> AuditEvent | None:
    """The portal's trail event for the initiate Azure logged with `correlation_id`: found through the request
    item that carries it (the portal saves it before calling), or, for an early end, by its own id."""
    item = (
        AccessRequestItem.objects.filter(correlation_id=correlation_id)
        .select_related("request")
        .only("request_id", "request__created")
        .first()
    )
    if item is None:
        return AuditEvent.objects.filter(correlation_id=correlation_id, action="access.end").first()
    # The request's trail events follow its creation: the lower bound spares a scan of every request's details.
    candidates = AuditEvent.objects.filter(
        action__in=OPENINGS, details__request=item.request_id, created__gte=item.request.created
    ).order_by("-seq")[:20]
    return next(
        (t for t in candidates if any(i.get("correlation_id") == correlation_id for i in t.details.get("items", []))),
        None,
    )


def _line_of(event: ArchivedEvent, vm_id: str, port: int) -> ArchivedRequest | None:
    """Azure's own line for a port the portal requested (for its fate): the start closest to the event."""
    lines = ArchivedRequest.objects.filter(
        policy_id=event.resource_id.lower(),
        vm_id=vm_id.lower(),
        port=port,
        start__range=(event.time - MATCH_WINDOW, event.time + MATCH_WINDOW),
    )
    return min(lines, key=lambda x: abs(x.start - event.time), default=None)


def _by_azure(event: ArchivedEvent) -> tuple[str, list[ArchivedTouch]] | None:
    if event.status == "Failed":
        return None
    return _by_history(event) if _is_initiate(event) else _by_configurations(event)


def _by_history(event: ArchivedEvent) -> tuple[str, list[ArchivedTouch]] | None:
    """The request in the policy's history by the same requestor whose start is closest to the event (its
    own source breaking a tie), among those no other event has claimed."""
    lines = list(
        ArchivedRequest.objects.filter(
            policy_id=event.resource_id.lower(),
            requestor__iexact=event.caller,
            start__range=(event.time - MATCH_WINDOW, event.time + MATCH_WINDOW),
        )
    )
    claimed = set(ArchivedTouch.objects.filter(request__in=lines).values_list("request_id", flat=True))
    by_start: dict[datetime, list[ArchivedRequest]] = defaultdict(list)
    for line in lines:
        if line.pk not in claimed:
            by_start[line.start].append(line)
    if not by_start:
        return None
    best = min(by_start, key=lambda s: (abs(s - event.time), all(x.source != event.client_ip for x in by_start[s])))
    return HISTORY, [
        _touch(event, line.vm_id, str(line.port), line)
        for line in sorted(by_start[best], key=lambda x: (x.vm_name, x.port))
    ]


def _by_configurations(event: ArchivedEvent) -> tuple[str, list[ArchivedTouch]] | None:
    """A change made elsewhere: the archived configuration before the event against the one after it.

    `seen` is ARM's Date header, in whole seconds, so a configuration read in the event's own second may be
    from before or after it: a delete (after which the policy is not listed again) compares the last one
    seen up to the event; a write takes the first seen after it, or in its second, and the one before that."""
    configurations = ArchivedConfiguration.objects.filter(policy_id=event.resource_id.lower())
    if event.operation.endswith("/delete"):
        before = configurations.filter(seen__lte=event.time).order_by("-seen", "-id").first()
        return CONFIGURATIONS, [_touch(event, vm, line) for vm, line in per_vm(before.vms if before else {}, {})]
    after = (
        configurations.filter(seen__gt=event.time).order_by("seen", "id").first()
        or configurations.filter(seen__gte=event.time.replace(microsecond=0)).order_by("seen", "id").first()
        or configurations.order_by("-seen", "-id").first()
    )
    if after is None:
        return None
    before = (
        configurations.filter(Q(seen__lt=after.seen) | Q(seen=after.seen, id__lt=after.id))
        .order_by("-seen", "-id")
        .first()
    )
    return CONFIGURATIONS, [_touch(event, vm, line) for vm, line in per_vm(before.vms if before else {}, after.vms)]


def purge(actor: Actor, now: datetime | None = None) -> int:
    """Delete archived rows older than AUDIT_RETENTION_DAYS; the purge itself goes on the trail."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    with transaction.atomic():
        events = ArchivedEvent.objects.filter(time__lt=cutoff).delete()[1].get("audit.ArchivedEvent", 0)
        lines = ArchivedRequest.objects.filter(end__lt=cutoff).delete()[0]
        # The newest configuration of each policy stays: the next change is explained against it.
        newest = {
            pid: seen
            for pid, seen in ArchivedConfiguration.objects.order_by("policy_id", "seen").values_list(
                "policy_id", "seen"
            )
        }
        stale = [
            c.pk
            for c in ArchivedConfiguration.objects.filter(seen__lt=cutoff).only("pk", "policy_id", "seen")
            if newest.get(c.policy_id) != c.seen
        ]
        configurations, _ = ArchivedConfiguration.objects.filter(pk__in=stale).delete()
        # Exposure windows ended before the cutoff: their archived start and end went with the events above.
        exposures, _ = Exposure.objects.filter(ended__lt=cutoff).delete()
        # Downloads' evidence manifests: a file kept longer keeps the manifest saved beside it (verify_export reads
        # that file; named by its id, a purged one is said to be gone).
        manifests, _ = ExportManifest.objects.filter(created__lt=cutoff).delete()
    if events:
        restate()
    record(
        actor,
        "archive.purge",
        "",
        "succeeded",
        details={
            "cutoff": cutoff.isoformat(),
            "retention_days": settings.AUDIT_RETENTION_DAYS,
            "deleted": {
                "events": events,
                "request_lines": lines,
                "configurations": configurations,
                "exposure_windows": exposures,
                "manifests": manifests,
            },
        },
    )
    return events
