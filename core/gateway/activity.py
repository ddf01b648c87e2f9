"""JIT operations from Azure's Activity Log (Microsoft.Insights eventtypes/management/values, 2015-04-01)."""

from __future__ import annotations

from datetime import datetime

from .app_identity import AppCredential
from .auth import UserCredential
from .clients import parallel
from .errors import GatewayError
from .parse import parse_time
from .raw import try_list
from .types import ActivityEvent, ActivityTail, Subscription

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
        event_id=item.get("eventDataId", ""),
        correlation_id=item.get("correlationId", ""),
        operation=(item.get("operationName") or {}).get("value", ""),
        operation_name=text("operationName"),
        status=text("status"),
        category=text("category"),
        level=item.get("level", ""),
        time=parse_time(item["eventTimestamp"]),
        subscription_id=item.get("subscriptionId", ""),
        caller=item.get("caller", ""),
        resource_type=text("resourceType"),
        resource_group=item.get("resourceGroupName", ""),
        resource_id=item.get("resourceId", ""),
        client_ip=(item.get("httpRequest") or {}).get("clientIpAddress", ""),
    )


def _read(
    credential: UserCredential | AppCredential, sub: Subscription, query: str
) -> tuple[list[ActivityEvent], datetime | None] | GatewayError:
    found = try_list(
        credential,
        f"/subscriptions/{sub.subscription_id}/providers/Microsoft.Insights/eventtypes/management/values",
        {"api-version": ACTIVITY_VERSION, "$filter": query},
        f"the Activity Log of {sub.display_name}",
        sub.subscription_id,
    )
    if isinstance(found, GatewayError):
        return found
    return [
        _event(i)
        for i in found[0]
        if (i.get("operationName") or {}).get("value", "").startswith(JIT_OPERATIONS)
        and (i.get("eventName") or {}).get("value") == "EndRequest"
    ], found[1]


def jit_activity_since(
    credential: UserCredential | AppCredential, wanted: list[tuple[Subscription, datetime]]
) -> list[ActivityTail]:
    """Each subscription's JIT operations from its start time to Azure's now, in parallel: the new tail the
    audit archive lacks. No end time: ARM takes `eventTimestamp ge` alone, and Azure's clock (the Date
    of its answer) says up to when the tail is complete."""

    def one(item: tuple[Subscription, datetime]) -> ActivityTail:
        sub, start = item
        found = _read(
            credential, sub, f"eventTimestamp ge '{_iso(start)}' and resourceProvider eq 'Microsoft.Security'"
        )
        if isinstance(found, GatewayError):
            return ActivityTail(sub, (), None, found.message)
        return ActivityTail(sub, tuple(found[0]), found[1])

    return parallel(one, wanted)
