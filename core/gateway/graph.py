"""Azure Resource Graph: the fleet's resources for many subscriptions in a few queries (docs/resource-graph.md).

The only place that talks to Resource Graph. Every query runs as the signed-in person (their ARM token, through
the same pipeline as the ARM lists), so Resource Graph's RBAC decides which rows they get. Queries `project` only
the fields the pages use; they are sent through the raw pipeline and read with `json.loads` (see
docs/architecture.md, "Fleet through Resource Graph", for why not the SDK client's models).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from azure.core.rest import HttpRequest
from django.conf import settings

from .auth import UserCredential
from .clients import TokenRejected, call, reader, refusal, timeouts
from .errors import GatewayError, Throttled

GRAPH_VERSION = "2022-10-01"
GRAPH_PATH = "/providers/Microsoft.ResourceGraph/resources"
PAGE_ROWS = 1000  # Resource Graph's largest $top
BATCH_LIMIT = 299  # Microsoft's throttling guidance: batches of fewer than 300 subscriptions

# Two queries per batch (docs/resource-graph.md explains each column): every resource the pages use from
# `resources` in one, Defender's pricing from `securityresources` in the other. Each query costs one of the person's
# quota (15 per 5 s by default) however few rows it gives, so kinds share a query rather than each have its own.
# Each projects `id`, without which Azure gives no $skipToken.
TYPES = {
    "microsoft.compute/virtualmachines": "vms",
    "microsoft.classiccompute/virtualmachines": "classic",
    "microsoft.network/networkinterfaces": "nics",
    "microsoft.network/virtualnetworks": "vnets",
    "microsoft.network/publicipaddresses": "pips",
    "microsoft.network/azurefirewalls": "firewalls",
    "microsoft.network/networksecuritygroups": "nsgs",
}
QUERIES = {
    "resources": "resources | where type in~ ({types}) | project id, name, type, location, subscriptionId, "
    "osType = tostring(properties.storageProfile.osDisk.osType), "
    "power = tostring(properties.extended.instanceView.powerState.code), "
    "nics = properties.networkProfile.networkInterfaces, "
    "admin = tostring(properties.osProfile.adminUsername), "
    "classicPower = tostring(properties.instanceView.powerState), "
    "classicOs = tostring(properties.storageProfile.operatingSystemDisk.operatingSystem), "
    "nsg = tostring(properties.networkSecurityGroup.id), ipConfigurations = properties.ipConfigurations, "
    "prefixes = properties.addressSpace.addressPrefixes, subnets = properties.subnets, "
    "ip = tostring(properties.ipAddress), firewallPolicy = tostring(properties.firewallPolicy.id), "
    "securityRules = properties.securityRules, defaultSecurityRules = properties.defaultSecurityRules".format(
        types=", ".join(f"'{t}'" for t in TYPES)
    ),
    "pricings": "securityresources | where type =~ 'microsoft.security/pricings' and name =~ 'VirtualMachines' "
    "| project id, name, subscriptionId, pricingTier = tostring(properties.pricingTier), "
    "subPlan = tostring(properties.subPlan)",
}
KINDS = (*TYPES.values(), "pricings")
# The kinds without which a subscription's tabs would be wrong (as fleet.LISTS marks the ARM lists).
REQUIRED = frozenset({"vms", "nics", "vnets"})


class Quota:
    """Resource Graph's per-person quota, as its answers state it (x-ms-user-quota-remaining and -resets-after, or a
    429's Retry-After): once none remains, no query of this person's leaves before the reset — unless that is more
    than GRAPH_QUOTA_WAIT_SECONDS away, when the query is refused here (and its batch read through the ARM lists)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def wait(self, what: str) -> None:
        with self._lock:
            left = self._until - time.monotonic()
        if left > settings.GRAPH_QUOTA_WAIT_SECONDS:
            raise Throttled(
                f"Azure Resource Graph's quota for your queries resets in {int(left) + 1} s, too late for {what}."
            )
        if left > 0:
            time.sleep(left)

    def note(self, headers) -> None:
        remaining, resets = headers.get("x-ms-user-quota-remaining"), headers.get("x-ms-user-quota-resets-after")
        if remaining is None or resets is None:
            return
        try:
            if int(remaining) > 0:
                return
            hours, minutes, seconds = resets.split(":")
            self.hold(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
        except ValueError:
            return

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)


def batches(subscription_ids: list[str], size: int) -> list[list[str]]:
    """The subscriptions in batches of `size` (never 300 or more), in order."""
    size = max(1, min(size, BATCH_LIMIT))
    return [subscription_ids[i : i + size] for i in range(0, len(subscription_ids), size)]


def query_rows(
    credential: UserCredential, subscription_ids: list[str], query: str, between_pages: Callable[[], None] | None = None
) -> list[dict]:
    """Resource Graph - Resources (POST /providers/Microsoft.ResourceGraph/resources): every row of one of QUERIES
    over these subscriptions, following $skipToken; raises the GatewayError that refused it."""
    what = f"Resource Graph's {query} in {len(subscription_ids)} subscription(s)"
    quota = credential.keep(("graph-quota",), Quota)
    client = reader(credential)

    def pages() -> list[dict]:
        rows: list[dict] = []
        options: dict[str, object] = {"resultFormat": "objectArray", "$top": PAGE_ROWS}
        throttled = 0
        while True:
            quota.wait(what)
            request = HttpRequest(
                "POST",
                GRAPH_PATH,
                params={"api-version": GRAPH_VERSION},
                json={"subscriptions": subscription_ids, "query": QUERIES[query], "options": options},
            )
            # No retries of azure-core's here: it would sleep out any Retry-After; Quota decides how long to wait.
            response = client.send_request(request, stream=True, retry_total=0, **timeouts())
            response.read()
            quota.note(response.headers)
            if response.status_code == 429 and throttled < settings.AZURE_RETRIES:
                throttled += 1
                quota.hold(_seconds(response.headers.get("Retry-After")))
                continue
            if response.status_code == 401:
                raise TokenRejected()
            if response.status_code >= 400:
                raise refusal(response.status_code, response.content, response.headers, what)
            body = json.loads(response.content)
            rows += body.get("data") or ()
            token = body.get("$skipToken")
            if not token:
                return rows
            if between_pages is not None:
                between_pages()
            options = {**options, "$skipToken": token}

    return call(credential, pages, what)


def try_rows(
    credential: UserCredential, subscription_ids: list[str], query: str, between_pages: Callable[[], None] | None = None
) -> dict[str, dict[str, list[dict]]] | GatewayError:
    """`query_rows` by subscription (lower-case id) and kind (a KINDS name), or the GatewayError that refused it."""
    try:
        rows = query_rows(credential, subscription_ids, query, between_pages)
    except GatewayError as error:
        return error
    found: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        kind = "pricings" if query == "pricings" else TYPES.get((row.get("type") or "").lower())
        if kind is not None:
            found[(row.get("subscriptionId") or "").lower()][kind].append(row)
    return found


def _seconds(retry_after: str | None) -> float:
    """A Retry-After in seconds (Resource Graph sends seconds); 1 when it says nothing readable."""
    try:
        return max(0.0, float(retry_after or 1))
    except ValueError:
        return 1.0
