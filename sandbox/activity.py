"""The Activity Log events Azure writes for JIT policy operations (api-version 2015-04-01 shapes)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import cached_property

from . import demo
from .errors import ArmError
from .fleet import JIT_TYPE
from .timeutil import format_time, parse_time

OPERATIONS = {
    "write": (
        "Microsoft.Security/locations/jitNetworkAccessPolicies/write",
        "Create or Update JIT Network Access Policy",
    ),
    "delete": ("Microsoft.Security/locations/jitNetworkAccessPolicies/delete", "Delete JIT Network Access Policy"),
    "initiate": (
        "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action",
        "Initiate JIT Network Access Policy",
    ),
}
METHODS = {"write": "PUT", "delete": "DELETE", "initiate": "POST"}
# subStatus as the Activity Log words it: the HTTP status's name, then its number.
SUB_STATUS = {
    "OK": "OK (HTTP Status Code: 200)",
    "Created": "Created (HTTP Status Code: 201)",
    "Accepted": "Accepted (HTTP Status Code: 202)",
    "BadRequest": "Bad Request (HTTP Status Code: 400)",
}
# The one condition a filter may add to its time range, by the name ARM takes, and the event field it reads.
FIELDS = {
    "resourcegroupname": lambda e: e["resourceGroupName"],
    "resourceuri": lambda e: e["resourceId"],
    "resourceprovider": lambda e: e["resourceProviderName"]["value"],
    "correlationid": lambda e: e["correlationId"],
}
_CLAUSE = re.compile(r"^(?P<name>\w+)\s+(?P<op>\w+)\s+(?:'(?P<quoted>[^']*)'|(?P<bare>\S+))$", re.IGNORECASE)
# An "and" outside quotes. Right after a closing quote it may come without a space, as Microsoft's own article
# writes it ("Retrieve activity log data using Azure monitor REST API": `…le '2023-03-24T20:00:00Z'and resourceGroupName…`).
_AND = re.compile(r"(?:\s+|(?<='))and\s+(?=(?:[^']*'[^']*')*[^']*$)", re.IGNORECASE)


@dataclass(frozen=True)
class Query:
    start: dt.datetime
    end: dt.datetime
    field: str = ""  # a FIELDS key, or "" for the whole subscription
    value: str = ""

    @cached_property
    def _bounds(self) -> tuple[str, str]:
        return format_time(self.start), format_time(self.end)

    def matches(self, event: dict) -> bool:
        # Every eventTimestamp is written by format_time, so text order is time order: no parsing per event
        # (a generated fleet's log holds hundreds of thousands).
        if not self._bounds[0] <= event["eventTimestamp"] <= self._bounds[1]:
            return False
        return not self.field or FIELDS[self.field](event).lower() == self.value.lower()


@dataclass
class _Index:
    """A log's events per subscription (lower case) in time order, with their eventTimestamps beside them, so
    that a time range is found by bisection instead of a scan of the whole log. The log only grows (events are
    appended, not always in time order: generated history lies in the past), so the index follows it by
    taking in what was appended since it last looked."""

    log: list[dict]
    taken: int = 0
    by_subscription: dict[str, tuple[list[str], list[dict]]] = field(default_factory=dict)

    def catch_up(self) -> None:
        for event in self.log[self.taken :]:
            times, events = self.by_subscription.setdefault(event["subscriptionId"].lower(), ([], []))
            when = event["eventTimestamp"]
            at = len(times) if not times or when >= times[-1] else bisect_right(times, when)  # after equal ones
            times.insert(at, when)
            events.insert(at, event)
            self.taken += 1


_index: _Index | None = None
_index_lock = threading.Lock()


def between(log: list[dict], subscription_id: str, query: Query) -> list[dict]:
    """The subscription's events `query` selects, newest first (events of one moment in the order written):
    the time range bisected in an index of the log, so that a read costs what it returns, not the log's size."""
    global _index
    with _index_lock:
        if _index is None or _index.log is not log:  # a reset or a loaded world is a new list
            _index = _Index(log)
        _index.catch_up()
        times, events = _index.by_subscription.get(subscription_id.lower(), ([], []))
        start, end = query._bounds
        found = events[bisect_left(times, start) : bisect_right(times, end)]
    if query.field:
        found = [e for e in found if query.matches(e)]
    found.sort(key=lambda e: e["eventTimestamp"], reverse=True)  # stable: one moment's events stay as written
    return found


def parse_filter(text: str, now: dt.datetime) -> Query:
    """The $filter forms the Activity Log accepts: `eventTimestamp ge` (required), then optionally
    `eventTimestamp le` (else now), then optionally one of FIELDS `eq`; values quoted or bare, as in
    Microsoft's samples. Anything else is refused as ARM refuses it."""
    clauses = [c.strip() for c in _AND.split(text.strip())] if text.strip() else []
    parsed = []
    for clause in clauses:
        found = _CLAUSE.match(clause)
        if not found:
            raise _unsupported(clause)
        parsed.append((found["name"].lower(), found["op"].lower(), found["quoted"] or found["bare"] or "", clause))
    if not parsed or parsed[0][:2] != ("eventtimestamp", "ge"):
        raise ArmError(
            400,
            "BadRequest",
            "The $filter is required and must start with the start time: eventTimestamp ge '<start>'.",
        )
    start, end = _time(parsed[0][2]), now
    rest = parsed[1:]
    if rest and rest[0][:2] == ("eventtimestamp", "le"):
        end, rest = _time(rest[0][2]), rest[1:]
    if start > end:
        raise ArmError(
            400,
            "BadRequest",
            f"The start time '{parsed[0][2]}' must be earlier than the end time '{format_time(end)}'.",
        )
    if not rest:
        return Query(start, end)
    name, op, value, clause = rest[0]
    if name not in FIELDS or op != "eq":
        raise _unsupported(clause)
    if len(rest) > 1:  # one condition besides the time range, no more
        raise _unsupported(rest[1][3])
    return Query(start, end, name, value)


def _time(text: str) -> dt.datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise ArmError(400, "BadRequest", f"The eventTimestamp '{text}' in $filter is not an ISO 8601 time.") from None


def _unsupported(clause: str) -> ArmError:
    return ArmError(400, "BadRequest", f"$filter={clause} is not supported.")


def select(events: list[dict], fields: str) -> list[dict]:
    """$select: keep only the named top-level properties (all of them when none is named)."""
    wanted = {f.strip().lower() for f in fields.split(",") if f.strip()}
    if not wanted:
        return events
    return [{k: v for k, v in e.items() if k.lower() in wanted} for e in events]


def record(
    world: dict,
    kind: str,
    pid: str,
    caller: dict,
    status: str,
    now: dt.datetime,
    correlation_id: str,
    sub_status: str = "",
) -> None:
    """Append the BeginRequest and EndRequest events Azure writes for one JIT operation."""
    action, localized = OPERATIONS[kind]
    sub_id = pid.split("/")[2]
    rg = pid.split("/")[4]
    operation_id = str(uuid.uuid4())
    # The operation ends now (never later: a log read at once must find its end); it began a moment before.
    for event_name, event_status, when in (
        ("BeginRequest", "Started", now - dt.timedelta(milliseconds=350)),
        ("EndRequest", status, now),
    ):
        event_id = str(uuid.uuid4())
        ticks = int((when - dt.datetime(1, 1, 1, tzinfo=dt.UTC)).total_seconds() * 10_000_000)
        world["activity"].append(
            {
                "authorization": {"action": action, "role": caller.get("role", ""), "scope": pid},
                "caller": caller.get("upn", ""),
                "channels": "Operation",
                "claims": _claims(caller, when),
                "correlationId": correlation_id,
                "description": "",
                "eventDataId": event_id,
                "eventName": {
                    "value": event_name,
                    "localizedValue": "Begin request" if event_name == "BeginRequest" else "End request",
                },
                "httpRequest": {
                    "clientRequestId": caller.get("client_request_id", ""),
                    "clientIpAddress": caller.get("ip", ""),
                    "method": METHODS[kind],
                },
                "category": {"value": "Administrative", "localizedValue": "Administrative"},
                "id": f"{pid}/events/{event_id}/ticks/{ticks}",
                "level": "Informational" if event_status != "Failed" else "Error",
                "resourceGroupName": rg,
                "resourceProviderName": {"value": "Microsoft.Security", "localizedValue": "Microsoft.Security"},
                "resourceId": pid,
                "resourceType": {"value": JIT_TYPE, "localizedValue": JIT_TYPE},
                "operationId": operation_id,
                "operationName": {"value": action, "localizedValue": localized},
                "properties": {
                    "eventCategory": "Administrative",
                    "entity": pid,
                    "message": action,
                    "hierarchy": f"{demo.TENANT_ID}/{sub_id}",
                    **({"statusCode": sub_status} if sub_status else {}),
                },
                "status": {"value": event_status, "localizedValue": event_status},
                "subStatus": {"value": sub_status, "localizedValue": SUB_STATUS.get(sub_status, sub_status)},
                "eventTimestamp": format_time(when),
                "submissionTimestamp": format_time(when + dt.timedelta(seconds=12)),
                "subscriptionId": sub_id,
                "tenantId": demo.TENANT_ID,
            }
        )


def _claims(caller: dict, when: dt.datetime) -> dict[str, str]:
    """The caller's token claims as the Activity Log lists them (strings, long names for the standard ones)."""
    issued = int(caller.get("iat", when.timestamp()))
    return {
        "aud": demo.ARM_AUDIENCE,
        "iss": f"https://sts.windows.net/{demo.TENANT_ID}/",
        "iat": str(issued),
        "nbf": str(issued),
        "exp": str(int(caller.get("exp", issued + 3600))),
        "ver": "1.0",
        "http://schemas.microsoft.com/identity/claims/tenantid": demo.TENANT_ID,
        "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd",
        "http://schemas.microsoft.com/identity/claims/objectidentifier": caller.get("oid", ""),
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": caller.get("upn", ""),
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": caller.get("upn", ""),
        "name": caller.get("name", ""),
        "appid": caller.get("appid", demo.CLIENT_ID),
        "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
        "ipaddr": caller.get("ip", ""),
    }
