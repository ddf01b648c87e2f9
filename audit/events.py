"""One vocabulary for what leaves the building: an event code per kind of event (success and failure distinct), its
OCSF class, and each trail event as the flat record the SIEM sinks and the JSON lines read.

Codes are stable (docs/audit-events.md lists them): `JIT<number><I|W|E>` — the number says the kind, the letter
the outcome (I succeeded, W partly or unknown, E failed), as Teleport's event codes do. OCSF 1.1 classes: access
granted, extended or ended early is User Access Management (3005: Assign / Revoke Privileges); a request's
lifecycle, JIT policies and approval rules are Entity Management (3004: Create / Update / Delete); sign-in and
sign-out Authentication (3002: Logon / Logoff); exports and purges API Activity (6003: Read / Delete); an exposure
window's start and end (the health check's findings, archived) Detection Finding (2004: Create / Close)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import NamedTuple

from requests_app.states import RequestStatus


class Kind(NamedTuple):
    type: str  # "access.granted"
    number: int  # the code's number
    ocsf_class: int
    ocsf_activity: int
    words: str  # the portal's meaning, beside Azure's operation name


AUTHENTICATION, ENTITY_MANAGEMENT, USER_ACCESS, API_ACTIVITY, FINDING = 3002, 3004, 3005, 6003, 2004
OCSF_CLASS_NAMES = {
    AUTHENTICATION: "Authentication",
    ENTITY_MANAGEMENT: "Entity Management",
    USER_ACCESS: "User Access Management",
    API_ACTIVITY: "API Activity",
    FINDING: "Detection Finding",
}
OCSF_CATEGORY = {AUTHENTICATION: 3, ENTITY_MANAGEMENT: 3, USER_ACCESS: 3, API_ACTIVITY: 6, FINDING: 2}

GRANTED = Kind("access.granted", 100, USER_ACCESS, 1, "access granted")
EXTENDED = Kind("access.extended", 101, USER_ACCESS, 1, "extension")
ENDED = Kind("access.ended_early", 102, USER_ACCESS, 2, "ended early")
NOT_CONFIRMED = Kind("access.not_confirmed", 103, USER_ACCESS, 1, "opening not confirmed")
SUBMITTED = Kind("request.submitted", 110, ENTITY_MANAGEMENT, 1, "request waits for approval")
APPROVED = Kind("request.approved", 111, ENTITY_MANAGEMENT, 3, "request approved")
DENIED = Kind("request.denied", 112, ENTITY_MANAGEMENT, 3, "request denied")
CANCELLED = Kind("request.cancelled", 113, ENTITY_MANAGEMENT, 3, "request cancelled")
LAPSED = Kind("request.expired", 114, ENTITY_MANAGEMENT, 3, "request expired undecided")
ENABLED = Kind("policy.enabled", 200, ENTITY_MANAGEMENT, 1, "JIT enabled")
CHANGED = Kind("policy.changed", 201, ENTITY_MANAGEMENT, 3, "JIT changed")
REMOVED = Kind("policy.removed", 202, ENTITY_MANAGEMENT, 4, "JIT removed")
RULE_CREATED = Kind("rule.created", 210, ENTITY_MANAGEMENT, 1, "approval rule created")
RULE_CHANGED = Kind("rule.changed", 211, ENTITY_MANAGEMENT, 3, "approval rule changed")
RULE_DELETED = Kind("rule.deleted", 212, ENTITY_MANAGEMENT, 4, "approval rule deleted")
SIGNED_IN = Kind("user.signed_in", 300, AUTHENTICATION, 1, "signed in")
SIGNED_OUT = Kind("user.signed_out", 301, AUTHENTICATION, 2, "signed out")
EXPORTED = Kind("audit.exported", 400, API_ACTIVITY, 2, "audit downloaded")
PURGED = Kind("audit.archive_purged", 401, API_ACTIVITY, 4, "archive purged")
EXPOSURE_STARTED = Kind("health.exposure_started", 500, FINDING, 1, "exposure started")
EXPOSURE_ENDED = Kind("health.exposure_ended", 501, FINDING, 3, "exposure ended")
OTHER = Kind("portal.event", 999, API_ACTIVITY, 99, "portal event")
KINDS = (
    GRANTED,
    EXTENDED,
    ENDED,
    NOT_CONFIRMED,
    SUBMITTED,
    APPROVED,
    DENIED,
    CANCELLED,
    LAPSED,
    ENABLED,
    CHANGED,
    REMOVED,
    RULE_CREATED,
    RULE_CHANGED,
    RULE_DELETED,
    SIGNED_IN,
    SIGNED_OUT,
    EXPORTED,
    PURGED,
    EXPOSURE_STARTED,
    EXPOSURE_ENDED,
    OTHER,
)
BY_WORDS = {k.words: k for k in KINDS}

_BY_ACTION = {
    "access.open": GRANTED,
    "access.end": ENDED,
    "access.stall": NOT_CONFIRMED,
    "access.approve": APPROVED,
    "access.deny": DENIED,
    "access.cancel": CANCELLED,
    "access.lapse": LAPSED,
    "jit.enable": ENABLED,
    "jit.edit": CHANGED,
    "jit.remove": REMOVED,
    "rule.create": RULE_CREATED,
    "rule.update": RULE_CHANGED,
    "rule.delete": RULE_DELETED,
    "sign-in": SIGNED_IN,
    "sign-out": SIGNED_OUT,
    "csv.download": EXPORTED,
    "archive.purge": PURGED,
}
_FAILED = frozenset(("failed", "refused"))
_PARTLY = frozenset(("partial", "unknown", "not confirmed"))


def kind_of(action: str, outcome: str, details: dict) -> Kind:
    """A trail event's kind."""
    if action == "access.request":
        if outcome == RequestStatus.PENDING_APPROVAL.label:
            return SUBMITTED
        return EXTENDED if details.get("extends") else GRANTED
    return _BY_ACTION.get(action, OTHER)


def outcome_letter(outcome: str) -> str:
    return "E" if outcome in _FAILED else "W" if outcome in _PARTLY else "I"


def code(kind: Kind, letter: str) -> str:
    return f"JIT{kind.number}{letter}"


def azure_letter(status: str) -> str:
    """An archived row's outcome letter from its status: Azure's (Succeeded, Failed), or an exposure's (Active: a
    warning; Resolved)."""
    return "E" if status == "Failed" else "I" if status in ("Succeeded", "Resolved") else "W"


_STATUS = {"I": ("Success", 1), "W": ("Unknown", 0), "E": ("Failure", 2)}
_NAMESPACE = uuid.UUID("5d1c3a52-7f0e-4b0a-9a53-2f7c1e0b4a11")  # the portal's: event ids are uuid5(_NAMESPACE, mac)
TRAIL_FIELDS = (
    "seq",
    "created",
    "actor_name",
    "action",
    "target",
    "outcome",
    "source_ip",
    "correlation_id",
    "details",
    "mac",
)


def event_id(mac: str) -> str:
    """A trail event's stable id: the same for every delivery of it, to every sink (receivers de-duplicate)."""
    return str(uuid.uuid5(_NAMESPACE, mac))


def record(
    seq: int,
    created: datetime,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    source_ip: str | None,
    correlation_id: str,
    details: dict | str,
    mac: str,
) -> dict:
    """A trail event as the SIEM sinks send it: the table's columns (README, Audit and SIEM) and `Ocsf`, the same
    event as an OCSF object. Takes TRAIL_FIELDS in order (a row of `values_list`, no model per event). `Details` (the
    trail's own, as JSON) only for events without VM ports, whose columns already say all of it: a stream of
    100,000 requests spent a third of its time writing each twice (`make bench`)."""
    if isinstance(details, str):  # as some databases give a JSON column through values_list
        details = json.loads(details)
    kind = kind_of(action, outcome, details)
    letter = outcome_letter(outcome)
    items = details.get("items") or ()
    names = [i.get("vm", "").rstrip("/").rsplit("/", 1)[-1] for i in items]
    ends = sorted(i["end"] for i in items if i.get("end"))
    requested_by = details.get("requester", "") or (actor if action == "access.request" else "")
    approver = actor if action in ("access.open", "access.approve", "access.deny") else ""
    moment = created.isoformat().replace("+00:00", "Z")
    status, status_id = _STATUS[letter]
    uid, event_code, justification = event_id(mac), f"JIT{kind.number}{letter}", details.get("justification", "")
    source = details.get("source", "")
    sources = list(dict.fromkeys(i.get("source") or source for i in items))
    window_end = ends[-1] if ends else None
    return {
        "TimeGenerated": moment,
        "EventId": uid,
        "EventCode": event_code,
        "EventType": kind.type,
        "Meaning": kind.words,
        "Status": status,
        "Outcome": outcome,
        "Action": action,
        "Actor": actor,
        "RequestedBy": requested_by,
        "ApprovedBy": approver,
        "Vms": list(dict.fromkeys(names)),
        "Ports": [f"{name}:{i.get('port')}" for name, i in zip(names, items, strict=True)],
        "Source": ", ".join(sources) if sources else source,
        "WindowStart": moment if items else None,
        "WindowEnd": window_end,
        "Justification": justification,
        "CorrelationId": correlation_id,
        "CorrelationIds": list(dict.fromkeys(i["correlation_id"] for i in items if i.get("correlation_id"))),
        "Target": target,
        "SourceIp": source_ip or "",
        "Request": details.get("request"),
        "TrailSeq": seq,
        "TrailMac": mac,
        "OcsfClassUid": kind.ocsf_class,
        "OcsfActivityId": kind.ocsf_activity,
        "Details": None if items else details,
        "Ocsf": {
            "class_uid": kind.ocsf_class,
            "class_name": OCSF_CLASS_NAMES[kind.ocsf_class],
            "category_uid": OCSF_CATEGORY[kind.ocsf_class],
            "activity_id": kind.ocsf_activity,
            "type_uid": kind.ocsf_class * 100 + kind.ocsf_activity,
            "severity_id": 1,
            "status_id": status_id,
            "status": status,
            "status_detail": outcome,
            "time": int(created.timestamp() * 1000),
            "message": kind.words,
            "metadata": {
                "version": "1.1.0",
                "uid": uid,
                "correlation_uid": correlation_id,
                "event_code": event_code,
                "product": _PRODUCT,
                "sequence": seq,
                "labels": [f"trail_mac:{mac}"],
            },
            "actor": {"user": {"name": actor, "type_id": 1}},
            "src_endpoint": {"ip": source_ip} if source_ip else {},
            "user": {"name": requested_by} if requested_by else {},
            "resources": [
                {
                    "uid": i.get("vm", ""),
                    "name": name,
                    "type": "Virtual Machine",
                    "labels": [
                        f"port:{i.get('port')}",
                        f"source:{i.get('source') or source}",
                        f"end:{i.get('end', '')}",
                    ],
                }
                for name, i in zip(names, items, strict=True)
            ]
            or ([{"uid": target, "type": "JIT policy"}] if target else []),
            "unmapped": {
                "justification": justification,
                "approver": approver,
                "request": details.get("request"),
                "window_end": window_end,
            },
        },
    }


_PRODUCT = {"name": "jitportal", "vendor_name": "jitportal"}


def _name(arm_id: str) -> str:
    return arm_id.rstrip("/").rsplit("/", 1)[-1]
