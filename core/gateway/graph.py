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

from .auth import UserCredential
from .clients import TokenRejected, call, reader, refusal, timeouts
from .errors import GatewayError

GRAPH_VERSION = "2022-10-01"
GRAPH_PATH = "/providers/Microsoft.ResourceGraph/resources"
PAGE_ROWS = 1000  # Resource Graph's largest $top
BATCH_LIMIT = 299  # Microsoft's throttling guidance: batches of fewer than 300 subscriptions

# One query per kind of resource, the same for every batch; each projects `id`, without which Azure gives no
# $skipToken. The wording is docs/resource-graph.md's, where each is explained.
QUERIES = {
    "vms": "resources | where type =~ 'microsoft.compute/virtualmachines' | project id, name, location, "
           "subscriptionId, osType = tostring(properties.storageProfile.osDisk.osType), "
           "power = tostring(properties.extended.instanceView.powerState.code), "
           "nics = properties.networkProfile.networkInterfaces, admin = tostring(properties.osProfile.adminUsername)",
    "classic": "resources | where type =~ 'microsoft.classiccompute/virtualmachines' | project id, name, location, "
               "subscriptionId, power = tostring(properties.instanceView.powerState), "
               "os = tostring(properties.storageProfile.operatingSystemDisk.operatingSystem)",
    "nics": "resources | where type =~ 'microsoft.network/networkinterfaces' | project id, subscriptionId, "
            "nsg = tostring(properties.networkSecurityGroup.id), ipConfigurations = properties.ipConfigurations",
    "vnets": "resources | where type =~ 'microsoft.network/virtualnetworks' | project id, subscriptionId, "
             "prefixes = properties.addressSpace.addressPrefixes, subnets = properties.subnets",
    "pips": "resources | where type =~ 'microsoft.network/publicipaddresses' and isnotempty(properties.ipAddress) "
            "| project id, subscriptionId, ip = tostring(properties.ipAddress)",
    "firewalls": "resources | where type =~ 'microsoft.network/azurefirewalls' | project id, name, subscriptionId, "
                 "ipConfigurations = properties.ipConfigurations, "
                 "firewallPolicy = tostring(properties.firewallPolicy.id)",
    "nsgs": "resources | where type =~ 'microsoft.network/networksecuritygroups' | project id, name, subscriptionId, "
            "securityRules = properties.securityRules, defaultSecurityRules = properties.defaultSecurityRules",
    "pricings": "securityresources | where type =~ 'microsoft.security/pricings' and name =~ 'VirtualMachines' "
                "| project id, name, subscriptionId, pricingTier = tostring(properties.pricingTier), "
                "subPlan = tostring(properties.subPlan)",
}
# The kinds without which a subscription's tabs would be wrong (as fleet.LISTS marks the ARM lists).
REQUIRED = frozenset({"vms", "nics", "vnets"})


class Quota:
    """Resource Graph's per-person quota, as its answers state it (x-ms-user-quota-remaining and -resets-after):
    once none remains, no query of this person's leaves before the reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def wait(self) -> None:
        with self._lock:
            left = self._until - time.monotonic()
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
            after = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            return
        with self._lock:
            self._until = max(self._until, time.monotonic() + after)


def batches(subscription_ids: list[str], size: int) -> list[list[str]]:
    """The subscriptions in batches of `size` (never 300 or more), in order."""
    size = max(1, min(size, BATCH_LIMIT))
    return [subscription_ids[i:i + size] for i in range(0, len(subscription_ids), size)]


def query_rows(credential: UserCredential, subscription_ids: list[str], kind: str,
               between_pages: Callable[[], None] | None = None) -> list[dict]:
    """Resource Graph - Resources (POST /providers/Microsoft.ResourceGraph/resources): every row of the kind's query
    over these subscriptions, following $skipToken; raises the GatewayError that refused it."""
    what = f"Resource Graph's {kind} in {len(subscription_ids)} subscription(s)"
    quota = credential.keep(("graph-quota",), Quota)
    client = reader(credential)

    def pages() -> list[dict]:
        rows: list[dict] = []
        options: dict[str, object] = {"resultFormat": "objectArray", "$top": PAGE_ROWS}
        while True:
            quota.wait()
            request = HttpRequest("POST", GRAPH_PATH, params={"api-version": GRAPH_VERSION},
                                  json={"subscriptions": subscription_ids, "query": QUERIES[kind], "options": options})
            response = client.send_request(request, stream=True, **timeouts())
            response.read()
            quota.note(response.headers)
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


def try_rows(credential: UserCredential, subscription_ids: list[str], kind: str,
             between_pages: Callable[[], None] | None = None) -> dict[str, list[dict]] | GatewayError:
    """`query_rows` by subscription (lower-case id), or the GatewayError that refused the batch."""
    try:
        rows = query_rows(credential, subscription_ids, kind, between_pages)
    except GatewayError as error:
        return error
    found: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        found[(row.get("subscriptionId") or "").lower()].append(row)
    return found
