"""JIT operations from Azure's Activity Log (Microsoft.Insights eventtypes/management/values, 2015-04-01)."""

from __future__ import annotations

from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from azure.mgmt.compute import ComputeManagementClient
from django.conf import settings

from .auth import UserCredential
from .clients import client_options
from .errors import GatewayError
from .parse import parse_time
from .raw import fetch_list
from .types import ActivityEvent, ActivityPage, FleetFailure, Subscription

JIT_OPERATIONS = "Microsoft.Security/locations/jitNetworkAccessPolicies/"
ACTIVITY_VERSION = "2015-04-01"


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(item: dict) -> ActivityEvent:
    def text(key: str) -> str:
        value = item.get(key) or ""
        if isinstance(value, dict):
            return value.get("localizedValue") or value.get("value") or ""
        return str(value)
    return ActivityEvent(
        event_id=item.get("eventDataId", ""), correlation_id=item.get("correlationId", ""),
        operation=(item.get("operationName") or {}).get("value", ""), operation_name=text("operationName"),
        status=text("status"), category=text("category"), level=item.get("level", ""),
        time=parse_time(item["eventTimestamp"]), subscription_id=item.get("subscriptionId", ""),
        caller=item.get("caller", ""), resource_type=text("resourceType"),
        resource_group=item.get("resourceGroupName", ""), resource_id=item.get("resourceId", ""))


def _fetch(credential: UserCredential, sub: Subscription, start: datetime, end: datetime,
           narrow: str) -> list[ActivityEvent] | GatewayError:
    # Any generated client's public send_request runs the same ARM pipeline (auth, retries, timeouts);
    # MonitorManagementClient only has a private one.
    client = ComputeManagementClient(subscription_id=sub.subscription_id, **client_options(credential))
    query = f"eventTimestamp ge '{_iso(start)}' and eventTimestamp le '{_iso(end)}' and {narrow}"
    found = fetch_list(credential, client,
                       f"/subscriptions/{sub.subscription_id}/providers/Microsoft.Insights/eventtypes/management/values",
                       {"api-version": ACTIVITY_VERSION, "$filter": query}, f"the Activity Log of {sub.display_name}")
    if isinstance(found, GatewayError):
        return found
    return [_event(i) for i in found[0]
            if (i.get("operationName") or {}).get("value", "").startswith(JIT_OPERATIONS)
            and (i.get("eventName") or {}).get("value") == "EndRequest"]


def list_jit_activity(session: MutableMapping[str, Any], subscriptions: list[Subscription], start: datetime,
                      end: datetime, resource_id: str = "") -> ActivityPage:
    """ARM: Activity Logs - List, per subscription in parallel, filtered to JIT operations.

    ARM accepts one narrowing clause: `resourceUri eq` for one policy, else `resourceProvider eq`."""
    credential = UserCredential(session)
    narrow = f"resourceUri eq '{resource_id}'" if resource_id else "resourceProvider eq 'Microsoft.Security'"
    if not subscriptions:
        return ActivityPage((), ())
    with ThreadPoolExecutor(max_workers=min(settings.AZURE_PARALLEL_CALLS, len(subscriptions))) as pool:
        results = list(pool.map(lambda s: _fetch(credential, s, start, end, narrow), subscriptions))
    events = [e for r in results if not isinstance(r, GatewayError) for e in r]
    failures = [FleetFailure(s, r.message) for s, r in zip(subscriptions, results, strict=True)
                if isinstance(r, GatewayError)]
    return ActivityPage(tuple(sorted(events, key=lambda e: e.time, reverse=True)), tuple(failures))
