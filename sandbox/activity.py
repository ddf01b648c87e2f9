"""The Activity Log events Azure writes for JIT policy operations (api-version 2015-04-01 shapes)."""

from __future__ import annotations

import datetime as dt
import uuid

from . import demo
from .fleet import JIT_TYPE
from .timeutil import format_time

OPERATIONS = {
    "write": ("Microsoft.Security/locations/jitNetworkAccessPolicies/write",
              "Create or Update JIT Network Access Policy"),
    "delete": ("Microsoft.Security/locations/jitNetworkAccessPolicies/delete", "Delete JIT Network Access Policy"),
    "initiate": ("Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action",
                 "Initiate JIT Network Access Policy"),
}


def record(world: dict, kind: str, pid: str, caller: dict, status: str, now: dt.datetime,
           correlation_id: str, sub_status: str = "") -> None:
    """Append the BeginRequest and EndRequest events Azure writes for one JIT operation."""
    action, localized = OPERATIONS[kind]
    sub_id = pid.split("/")[2]
    rg = pid.split("/")[4]
    operation_id = str(uuid.uuid4())
    for event_name, event_status, when in (("BeginRequest", "Started", now),
                                           ("EndRequest", status, now + dt.timedelta(milliseconds=350))):
        event_id = str(uuid.uuid4())
        ticks = int((when - dt.datetime(1, 1, 1, tzinfo=dt.UTC)).total_seconds() * 10_000_000)
        world["activity"].append({
            "authorization": {"action": action, "scope": pid},
            "caller": caller.get("upn", ""),
            "channels": "Operation",
            "claims": {"name": caller.get("name", ""), "http://schemas.microsoft.com/identity/claims/objectidentifier":
                       caller.get("oid", ""), "ipaddr": caller.get("ip", "")},
            "correlationId": correlation_id,
            "description": "",
            "eventDataId": event_id,
            "eventName": {"value": event_name, "localizedValue": "Begin request" if event_name == "BeginRequest"
                          else "End request"},
            "category": {"value": "Administrative", "localizedValue": "Administrative"},
            "id": f"{pid}/events/{event_id}/ticks/{ticks}",
            "level": "Informational" if event_status != "Failed" else "Error",
            "resourceGroupName": rg,
            "resourceProviderName": {"value": "Microsoft.Security", "localizedValue": "Microsoft.Security"},
            "resourceId": pid,
            "resourceType": {"value": JIT_TYPE, "localizedValue": JIT_TYPE},
            "operationId": operation_id,
            "operationName": {"value": action, "localizedValue": localized},
            "properties": {"eventCategory": "Administrative", "entity": pid, "message": action,
                           "hierarchy": f"{demo.TENANT_ID}/{sub_id}", **({"statusCode": sub_status} if sub_status else {})},
            "status": {"value": event_status, "localizedValue": event_status},
            "subStatus": {"value": sub_status, "localizedValue": sub_status},
            "eventTimestamp": format_time(when),
            "submissionTimestamp": format_time(when + dt.timedelta(seconds=12)),
            "subscriptionId": sub_id,
            "tenantId": demo.TENANT_ID,
        })
