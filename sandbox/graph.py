"""Azure Resource Graph as the sandbox plays it: `POST /providers/Microsoft.ResourceGraph/resources`.

Modelled on Microsoft's REST reference (Resources - Resources, api-version 2024-04-01), its examples
(shared/azure-spec-examples/resourcegraph/), "Working with large Azure resource data sets" (paging) and
"Guidance for throttled requests" (quota headers). docs/architecture.md, "The sandbox's Resource Graph", says
what is modelled and what is assumed.

Rows come from the sandbox's own world, the same data the ARM lists serve, in Resource Graph's shape: lower-case
`type` and `resourceGroup`, `subscriptionId`, `tenantId`, and for VMs `properties.extended.instanceView.powerState`.
The world is indexed once per fleet by table, type and subscription, so a query reads only the subscriptions and
types it names. Writes reach the graph after a lag (`graph_lag_seconds`): NSGs and firewalls, the resources
writes change, are served from copies taken when the write was saved and published `lag` seconds later.
"""

from __future__ import annotations

import base64
import binascii
import collections
import copy
import datetime as dt
import functools
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from . import demo, kql, rbac
from .arm import Arm, render_vm
from .errors import ArmError
from .http import INVALID, Request, Response, json_response, route
from .state import Sandbox
from .timeutil import format_time

# World store → (table, the resource type as ARM spells it). JIT policies are not in Resource Graph.
STORES: dict[str, tuple[str, str]] = {
    "vms": ("resources", "Microsoft.Compute/virtualMachines"),
    "classic_vms": ("resources", "Microsoft.ClassicCompute/virtualMachines"),
    "nics": ("resources", "Microsoft.Network/networkInterfaces"),
    "nsgs": ("resources", "Microsoft.Network/networkSecurityGroups"),
    "vnets": ("resources", "Microsoft.Network/virtualNetworks"),
    "pips": ("resources", "Microsoft.Network/publicIPAddresses"),
    "firewalls": ("resources", "Microsoft.Network/azureFirewalls"),
    "asgs": ("resources", "Microsoft.Network/applicationSecurityGroups"),
    "pricings": ("securityresources", "Microsoft.Security/pricings"),
}
CHANGING = ("nsgs", "firewalls")  # the stores the sandbox's writes change (rules); the rest change only with the fleet
MAX_SUBSCRIPTIONS = 1000
MAX_TOP = 1000
DEFAULT_TOP = 100  # "a query returns 100 records unless $top/first is set" (docs)
UNPAGED_LIMIT = 1000  # a query that does not project id is not paged: its first 1,000 rows, resultTruncated
KEPT_ROWS = 400_000  # result rows kept for the next pages (a 100,000-VM fleet's query family, a few callers)
SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
INVALID_QUERY = "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying."
THROTTLED = (
    "Client application has been throttled and should not attempt to repeat the request until an amount of "
    "time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help."
)

Index = dict[str, dict[str, list[dict]]]  # lower-case type → lower-case subscription id → world resources


class GraphError(ArmError):
    """Resource Graph's error: ARM's envelope with `details` (what actually went wrong)."""

    def __init__(self, status: int, code: str, details: list[dict], headers: dict[str, str] | None = None) -> None:
        super().__init__(status, code, details[0]["message"], headers)
        self.details = details
        self.support_message = ""

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.support_message or self.message, "details": self.details}}


def _bad_request(code: str, message: str) -> GraphError:
    return GraphError(400, "BadRequest", [{"code": code, "message": message}])


@dataclass
class _Window:
    started: float
    used: int


class Quota:
    """Per person, `quota` queries in each `window` seconds from that person's first one (the docs' example:
    15 per 5 seconds). Each call costs one, a paged call too; a refused call costs nothing."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: dict[str, _Window] = {}

    def take(self, principal: str, quota: int, window: int) -> tuple[bool, int, float]:
        """(allowed, remaining after this call, seconds until the window resets)."""
        now = time.monotonic()
        with self.lock:
            current = self.windows.get(principal)
            if current is None or now - current.started >= window:
                current = self.windows[principal] = _Window(now, 0)
            resets = window - (now - current.started)
            if current.used >= quota:
                return False, 0, resets
            current.used += 1
            return True, quota - current.used, resets

    def forget(self) -> None:
        with self.lock:
            self.windows.clear()


def quota_headers(remaining: int, resets_after: float) -> dict[str, str]:
    seconds = max(0, math.ceil(resets_after))
    return {
        "x-ms-user-quota-remaining": str(remaining),
        "x-ms-user-quota-resets-after": f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
    }


class Graph:
    def __init__(self, sandbox: Sandbox, arm: Arm) -> None:
        self.sandbox = sandbox
        self.arm = arm
        self.quota = Quota()
        self._lock = threading.Lock()  # guards the fields below; the world's own lock is taken only to read it
        self._index: Index = {}
        self._index_generation = -1
        self._published: Index | None = None  # with a lag: the changing stores as they were, until due
        self._pending: collections.deque[tuple[dt.datetime, Index]] = collections.deque()
        self._published_serial = 0
        self._seen_generation = sandbox.generation  # the fleet the last write was made to
        if sandbox.knobs.graph_lag_seconds > 0:
            self._published = self._copy_changing()
        self._results: collections.OrderedDict[tuple, list[dict]] = collections.OrderedDict()
        self._kept_rows = 0
        sandbox.write_listeners.append(self._written)

    def routes(self) -> list:
        return [
            route("POST", "/providers/Microsoft.ResourceGraph/resources", self.resources, "resourceGraph.resources")
        ]

    # --- the view of the world, with its lag --------------------------------------------------------------
    def _written(self) -> None:
        """Called under the world's lock after every saved write: what the graph will show `lag` seconds on."""
        lag = self.sandbox.knobs.graph_lag_seconds
        with self._lock:
            if self._seen_generation != self.sandbox.generation or lag <= 0:
                self._seen_generation = self.sandbox.generation
                self._pending.clear()  # a new fleet shows at once; without a lag nothing is held back
                self._published = self._copy_changing() if lag > 0 else None
                self._published_serial += 1
                return
            if self._published is None:  # the lag was just switched on: what was there before this write is lost
                self._published = self._copy_changing()
                self._published_serial += 1
            due = self.sandbox.clock.now() + dt.timedelta(seconds=lag)
            self._pending.append((due, self._copy_changing()))

    def lag_changed(self) -> None:
        """The lag knob moved: from now on, writes wait for it (or, at 0, show at once)."""
        with self.sandbox.lock, self._lock:
            self._pending.clear()
            self._published = self._copy_changing() if self.sandbox.knobs.graph_lag_seconds > 0 else None
            self._published_serial += 1

    def _copy_changing(self) -> Index:
        """The changing stores as they are now. NSG writes replace or append to `securityRules`, so a copy of
        that list keeps the rules as they were; firewalls (a handful) are copied whole."""
        world = self.sandbox.world
        copies: Index = {}
        for store in CHANGING:
            type_key = STORES[store][1].lower()
            by_sub = copies.setdefault(type_key, {})
            for key, resource in world.get(store, {}).items():
                if store == "nsgs":
                    properties = resource["properties"]
                    kept = {
                        **resource,
                        "properties": {**properties, "securityRules": list(properties.get("securityRules", []))},
                    }
                else:
                    kept = copy.deepcopy(resource)
                by_sub.setdefault(key.split("/")[2], []).append(kept)
        return copies

    def _view(self) -> tuple[Index, tuple, list[dict]]:
        """The index to read (with the lagged stores as due now), a key for what it holds, and the role
        assignments; taken under the world's lock, read outside it."""
        with self.sandbox.lock:
            world = self.sandbox.world
            with self._lock:
                if self._index_generation != self.sandbox.generation:
                    self._index = _build_index(world)
                    self._index_generation = self.sandbox.generation
                    self._results.clear()
                    self._kept_rows = 0
                now = self.sandbox.clock.now()
                while self._pending and self._pending[0][0] <= now:
                    self._published = self._pending.popleft()[1]
                    self._published_serial += 1
                index = self._index if self._published is None else {**self._index, **self._published}
                freshness = (
                    ("live", self.sandbox.version) if self._published is None else ("lagged", self._published_serial)
                )
                return index, (self.sandbox.generation, *freshness), world["role_assignments"]

    # --- the operation -----------------------------------------------------------------------------------
    def resources(self, request: Request) -> Response:
        caller = self.arm.caller(request)
        knobs = self.sandbox.knobs
        allowed, remaining, resets = self.quota.take(caller["oid"], knobs.graph_quota, knobs.graph_quota_window_s)
        headers = quota_headers(remaining, resets)
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(resets)))
            raise self._with_support(
                GraphError(429, "RateLimiting", [{"code": "RateLimiting", "message": THROTTLED}], headers), request
            )
        try:
            body = self._answer(request, caller)
        except GraphError as error:
            error.headers.update(headers)
            raise self._with_support(error, request) from None
        return json_response(200, body, headers)

    def _with_support(self, error: GraphError, request: Request) -> GraphError:
        error.support_message = (
            f"Please provide below info when asking for support: timestamp = "
            f"{format_time(self.sandbox.clock.now())}, correlationId = "
            f"{request.headers.get('x-ms-correlation-request-id', '')}."
        )
        return error

    def _answer(self, request: Request, caller: dict) -> dict:
        body = request.json()
        if (
            body is INVALID
            or not isinstance(body, dict)
            or not isinstance(body.get("query"), str)
            or not body["query"].strip()
        ):
            raise _bad_request(
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'query' is required.",
            )
        options = _options(body.get("options"))
        if body.get("managementGroups"):
            raise _bad_request(
                "UnsupportedScope",
                "The sandbox's Resource Graph models subscription scopes only, not management groups.",
            )
        try:
            query = kql.parse(body["query"])
        except kql.KqlError as error:
            raise GraphError(
                400,
                "BadRequest",
                [
                    {"code": "InvalidQuery", "message": INVALID_QUERY},
                    {
                        "code": "ParserFailure",
                        "message": str(error),
                        "line": 1,
                        "characterPositionInLine": error.position,
                        "token": error.token,
                    },
                ],
            ) from None
        index, freshness, assignments = self._view()
        subscriptions = self._subscriptions(body.get("subscriptions"), caller["oid"], assignments)
        rows = self._rows(query, body["query"], subscriptions, caller["oid"], index, freshness, assignments)
        return _page(rows, query, options, _fingerprint(body["query"], subscriptions), body.get("facets"))

    def _subscriptions(self, requested: object, principal: str, assignments: list[dict]) -> list[str]:
        """The subscriptions to read, lower case, in the order asked: unknown ones and ones the caller has no
        role in are skipped without a word, as Azure does; none asked means all the caller's."""
        mine = {
            a["scope"].split("/")[2].lower()
            for a in assignments
            if rbac.holds(a, principal) and a["scope"].lower().startswith("/subscriptions/")
        }
        known = {s["subscriptionId"].lower() for s in self.sandbox.world["subscriptions"]}
        if requested is None or requested == []:
            return sorted(mine & known)
        if not isinstance(requested, list) or not all(
            isinstance(s, str) and SUBSCRIPTION_ID.match(s) for s in requested
        ):
            raise _bad_request("InvalidSubscriptionId", "Each of 'subscriptions' must be a subscription id (a GUID).")
        if len(requested) > MAX_SUBSCRIPTIONS:
            raise _bad_request(
                "TooManySubscriptions",
                f"The request names {len(requested)} subscriptions; a query "
                f"may name at most {MAX_SUBSCRIPTIONS}. Send them in batches.",
            )
        return [s for s in dict.fromkeys(s.lower() for s in requested) if s in mine and s in known]

    def _rows(
        self,
        query: kql.Query,
        text: str,
        subscriptions: list[str],
        principal: str,
        index: Index,
        freshness: tuple,
        assignments: list[dict],
    ) -> list[dict]:
        """The query's whole result, kept for its next pages while the world it came from is current. It is
        kept by what the caller may read, not by who asks: two people with the same read scope get the same
        rows, so the second one's query costs no more than a page."""
        scopes = _readable_scopes(query, subscriptions, principal, index, assignments)
        key = (text, tuple(scopes), freshness)
        with self._lock:
            kept = self._results.get(key)
            if kept is not None:
                self._results.move_to_end(key)
                return kept
        candidates = [
            _Row(r, store, type_lower, sub)
            for sub, store, type_lower, groups in scopes
            for r in index[type_lower][sub]
            if groups is None or _group_of(r["id"]) in groups
        ]
        rows = [row if type(row) is dict else dict(row) for row in kql.run(query.stages, candidates)]
        with self._lock:
            self._results[key] = rows
            self._kept_rows += len(rows)
            while self._kept_rows > KEPT_ROWS and len(self._results) > 1:
                _, dropped = self._results.popitem(last=False)
                self._kept_rows -= len(dropped)
        return rows


def _readable_scopes(
    query: kql.Query, subscriptions: list[str], principal: str, index: Index, assignments: list[dict]
) -> list[tuple[str, str, str, frozenset[str] | None]]:
    """What the caller may read of the table's rows in the subscriptions, of the types the query's leading
    `where type …` admits: (subscription, store, type, None for all of them or the readable groups), in order.
    Read permission per subscription and type, as ARM's lists check it, from the caller's own assignments."""
    admitted = query.types()
    types = [
        (store, arm_type)
        for store, (table, arm_type) in STORES.items()
        if table == query.table and (admitted is None or arm_type.lower() in admitted)
    ]
    by_sub: dict[str, list[dict]] = {}
    for a in assignments:
        if rbac.holds(a, principal):
            parts = a["scope"].lower().split("/")
            by_sub.setdefault(parts[2] if len(parts) > 2 else "", []).append(a)
    scopes: list[tuple[str, str, str, frozenset[str] | None]] = []
    for sub in subscriptions:
        mine = by_sub.get(sub, []) + by_sub.get("", [])
        for store, arm_type in types:
            type_lower = arm_type.lower()
            if not index.get(type_lower, {}).get(sub):
                continue
            whole, groups = rbac.readable(mine, principal, f"{arm_type}/read", f"/subscriptions/{sub}")
            if whole or groups:
                scopes.append((sub, store, type_lower, None if whole else frozenset(groups)))
    return scopes


def _build_index(world: dict) -> Index:
    index: Index = {}
    for store, (_, arm_type) in STORES.items():
        by_sub = index.setdefault(arm_type.lower(), {})
        for key, resource in world.get(store, {}).items():
            sub = key if store == "pricings" else key.split("/")[2]
            by_sub.setdefault(sub, []).append(resource)
    return index


def _group_of(resource_id: str) -> str:
    return "/".join(resource_id.split("/")[:5]).lower()


COLUMNS = (
    "id",
    "name",
    "type",
    "tenantId",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "managedBy",
    "sku",
    "plan",
    "properties",
    "tags",
    "identity",
    "zones",
    "extendedLocation",
)


class _Row(Mapping):
    """One Resource Graph row of a world resource (the fields Microsoft documents for the resources table),
    made field by field as the query reads them: a query that projects five fields of 30,000 VMs renders
    no more than it shows."""

    __slots__ = ("resource", "store", "type", "sub", "_properties")

    def __init__(self, resource: dict, store: str, type_lower: str, sub: str) -> None:
        self.resource, self.store, self.type, self.sub = resource, store, type_lower, sub
        self._properties: dict | None = None

    def get(self, key: str, default: object = None) -> object:
        resource = self.resource
        if key == "properties":
            if self._properties is None:
                self._properties = _vm_properties(resource) if self.store == "vms" else resource.get("properties", {})
            return self._properties
        if key in ("id", "name"):
            return resource[key]
        if key == "type":
            return self.type
        if key == "subscriptionId":
            return self.sub
        if key == "resourceGroup":
            parts = resource["id"].split("/", 5)
            return parts[4].lower() if len(parts) > 4 and parts[3].lower() == "resourcegroups" else ""
        if key == "tenantId":
            return demo.TENANT_ID
        if key in ("kind", "location", "managedBy"):
            return resource.get(key, "")
        if key == "tags":
            return resource.get("tags") or {}
        if key in COLUMNS:
            return resource.get(key)
        return default

    def __getitem__(self, key: str) -> object:
        if key not in COLUMNS:
            raise KeyError(key)
        return self.get(key)

    def __iter__(self):
        return iter(COLUMNS)

    def __len__(self) -> int:
        return len(COLUMNS)


def _vm_properties(vm: dict) -> dict:
    """ARM's VM properties plus what Resource Graph adds under `extended` (the power state ARM gives only in
    an instance view)."""
    properties = render_vm(vm)["properties"]
    properties["extended"] = _extended(vm["power"], vm["os"])
    return properties


@functools.cache
def _extended(power: str, os_type: str) -> dict:
    """Shared by every VM in that state (only serialized, never changed)."""
    display = {"running": "VM running", "stopped": "VM stopped", "deallocated": "VM deallocated"}[power]
    return {
        "instanceView": {
            "osName": "ubuntu" if os_type == "Linux" else "Windows Server 2022 Datacenter",
            "powerState": {"code": f"PowerState/{power}", "level": "Info", "displayStatus": display},
        }
    }


@dataclass(frozen=True)
class Options:
    top: int | None
    skip: int
    skip_token: str | None
    table_format: bool


def _options(options: object) -> Options:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise _bad_request("InvalidRequestContent", "'options' must be an object.")
    top, skip, token = options.get("$top"), options.get("$skip", 0), options.get("$skipToken")
    if top is not None and (not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= MAX_TOP):
        raise _bad_request("InvalidParameter", f"'$top' must be a whole number from 1 to {MAX_TOP}.")
    if skip is None:
        skip = 0
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise _bad_request("InvalidParameter", "'$skip' must be a whole number of at least 0.")
    if token is not None and not isinstance(token, str):
        raise _bad_request("InvalidParameter", "'$skipToken' must be a string.")
    result_format = options.get("resultFormat") or "objectArray"
    if not isinstance(result_format, str) or result_format.lower() not in ("objectarray", "table"):
        raise _bad_request("InvalidParameter", "'resultFormat' must be 'objectArray' or 'table'.")
    return Options(top, skip, token or None, result_format.lower() == "table")


def _fingerprint(text: str, subscriptions: list[str]) -> str:
    """What a skip token belongs to: the same query over the same subscriptions."""
    return hashlib.sha256(json.dumps([text, subscriptions]).encode()).hexdigest()[:16]


def _skip_token(fingerprint: str, offset: int, size: int) -> str:
    """Where the next page starts and how long pages are: the NextPage example sends no $top and gets a page
    as long as the first."""
    return base64.b64encode(
        json.dumps({"q": fingerprint, "o": offset, "t": size}, separators=(",", ":")).encode()
    ).decode()


def _position(token: str, fingerprint: str) -> tuple[int, int]:
    try:
        decoded = json.loads(base64.b64decode(token, validate=True))
        offset, size = decoded["o"], decoded["t"]
        if decoded["q"] != fingerprint or not all(isinstance(v, int) and v >= 0 for v in (offset, size)):
            raise ValueError
        return offset, size
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _bad_request(
            "InvalidSkipToken", "The $skipToken is invalid: send the query and subscriptions it came with."
        ) from None


def _page(rows: list[dict], query: kql.Query, options: Options, fingerprint: str, facets: object) -> dict:
    """One page, as Resources - Resources answers: with `id` projected, pages follow one another by
    $skipToken; without it there is no token, at most 1,000 rows, and resultTruncated says whether more were
    left out."""
    paged = query.projects("id")
    start, size = options.skip, options.top or DEFAULT_TOP
    if options.skip_token:
        start, token_size = _position(options.skip_token, fingerprint)
        size = options.top or token_size
    end = min(start + size, len(rows)) if paged else min(start + size, len(rows), UNPAGED_LIMIT)
    data = rows[start:end]
    answer: dict = {
        "totalRecords": len(rows),
        "count": len(data),
        "resultTruncated": "true" if not paged and end < len(rows) else "false",
    }
    if paged and end < len(rows):
        answer["$skipToken"] = _skip_token(fingerprint, end, size)
    answer["data"] = _table(data) if options.table_format else data
    answer["facets"] = (
        [
            {
                "expression": f.get("expression", "") if isinstance(f, dict) else "",
                "resultType": "FacetError",
                "errors": [{"code": "NotSupported", "message": "The sandbox's Resource Graph computes no facets."}],
            }
            for f in facets
        ]
        if isinstance(facets, list)
        else []
    )
    return answer


def _table(rows: list[dict]) -> dict:
    """The `table` result format: columns with their types, then rows as lists."""
    names = list(rows[0]) if rows else []
    columns = [
        {"name": n, "type": _column_type(next((r.get(n) for r in rows if r.get(n) is not None), None))} for n in names
    ]
    return {"columns": columns, "rows": [[r.get(n) for n in names] for r in rows]}


def _column_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"
