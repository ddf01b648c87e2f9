"""Azure Resource Manager as the sandbox plays it: the endpoints the gateway uses, with RBAC and paging."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from functools import cache
from urllib.parse import urlencode

import jwt

from . import activity, authorization, jit, rbac
from .errors import ArmError
from .fleet import policy_id
from .http import INVALID, Request, Response, json_response, route
from .identity import Identity
from .state import Sandbox
from .timeutil import parse_time

_NETWORK_VERSIONS = (
    "2023-09-01",
    "2023-11-01",
    "2024-01-01",
    "2024-03-01",
    "2024-05-01",
    "2024-07-01",
    "2024-10-01",
    "2025-01-01",
    "2026-03-01",
)
# Operation family → (namespace, resource type, api-versions served). Each list holds the version the portal
# pins, the one the installed SDK sends by default, and published versions whose shapes match what the
# sandbox answers; JIT and the Activity Log only the versions whose shapes the sandbox plays.
API_VERSIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "subscriptions": ("Microsoft.Resources", "subscriptions", ("2016-06-01", "2020-01-01", "2021-01-01", "2022-12-01")),
    "vms": (
        "Microsoft.Compute",
        "virtualMachines",
        ("2023-09-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-04-01", "2026-04-01"),
    ),
    "classicVms": ("Microsoft.ClassicCompute", "virtualMachines", ("2015-06-01", "2016-04-01", "2017-04-01")),
    "nics": ("Microsoft.Network", "networkInterfaces", _NETWORK_VERSIONS),
    "nsgs": ("Microsoft.Network", "networkSecurityGroups", _NETWORK_VERSIONS),
    "vnets": ("Microsoft.Network", "virtualNetworks", _NETWORK_VERSIONS),
    "publicIps": ("Microsoft.Network", "publicIPAddresses", _NETWORK_VERSIONS),
    "firewalls": ("Microsoft.Network", "azureFirewalls", _NETWORK_VERSIONS),
    "asgs": ("Microsoft.Network", "applicationSecurityGroups", _NETWORK_VERSIONS),
    "securityRules": ("Microsoft.Network", "networkSecurityGroups/securityRules", _NETWORK_VERSIONS),
    "networkOperations": ("Microsoft.Network", "locations/operations", _NETWORK_VERSIONS),
    "pricings": ("Microsoft.Security", "pricings", ("2018-06-01", "2022-03-01", "2023-01-01", "2024-01-01")),
    "jit": ("Microsoft.Security", "locations/jitNetworkAccessPolicies", ("2020-01-01",)),
    "activityLog": ("Microsoft.Insights", "eventtypes", ("2015-04-01",)),
    "permissions": ("Microsoft.Authorization", "permissions", ("2015-07-01", "2022-04-01")),
    "roleAssignments": ("Microsoft.Authorization", "roleAssignments", ("2022-04-01",)),
    "roleDefinitions": ("Microsoft.Authorization", "roleDefinitions", ("2022-04-01",)),
    # Resource Graph: 2021-03-01 is what azure-mgmt-resourcegraph 8.0.1 sends by default; 2022-10-01 and 2024-04-01
    # the later stable versions (sandbox/graph.py)
    "resourceGraph": ("Microsoft.ResourceGraph", "resources", ("2021-03-01", "2022-10-01", "2024-04-01")),
}
AUTHORIZATION = "providers/Microsoft.Authorization"
P = "/subscriptions/{sub}"
NSG = f"{P}/resourceGroups/{{rg}}/providers/Microsoft.Network/networkSecurityGroups/{{nsg}}"
RULE_NAME = re.compile(r"^\w[\w.-]{0,78}[\w_]$|^\w$")  # Azure: a word character first, a word character or _ last
JIT_BASE = f"{P}/resourceGroups/{{rg}}/providers/Microsoft.Security/locations/{{loc}}/jitNetworkAccessPolicies"
RETENTION = dt.timedelta(days=90)
KEPT_PAGES = 20_000  # list pages kept between writes: a generated 10,000-VM fleet for a few callers


def _subscription_of(scope: str) -> str:
    """The subscription id of an ARM scope, lower case; "" for a scope above subscriptions."""
    parts = scope.lower().split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else ""


def _vm_ids(body: object) -> list[str]:
    """The VM ids a policy body names (a malformed body names none; jit.put_policy refuses it)."""
    properties = body.get("properties") if isinstance(body, dict) else None
    vms = properties.get("virtualMachines") if isinstance(properties, dict) else None
    return (
        [vm["id"] for vm in vms if isinstance(vm, dict) and isinstance(vm.get("id"), str)]
        if isinstance(vms, list)
        else []
    )


class Arm:
    def __init__(self, sandbox: Sandbox, identity: Identity) -> None:
        self.sandbox = sandbox
        self.identity = identity
        self._index: dict[tuple[str, str], list[dict]] = {}
        self._index_versions: dict[str, tuple[int, int]] = {}  # per store, the world it indexes
        self._groups: set[str] = set()  # "/subscriptions/…/resourcegroups/…", lower case
        self._groups_generation = -1
        self._pages: dict[tuple, bytes] = {}  # list answers as sent, for one world version
        self._pages_version = (-1, -1)
        self._assignments_by_sub: dict[str, list[tuple[int, dict]]] = {}  # "" for scopes above any subscription
        self._assignments_generation = -1

    def routes(self) -> list:
        net = f"{P}/providers/Microsoft.Network"
        return [
            route("GET", "/subscriptions", self.list_subscriptions, "subscriptions.list"),
            route("GET", f"{P}/providers/Microsoft.Compute/virtualMachines", self.list_vms, "vms.list"),
            route(
                "GET",
                f"{P}/resourceGroups/{{rg}}/providers/Microsoft.Compute/virtualMachines/{{vm}}/instanceView",
                self.instance_view,
                "vms.instanceView",
            ),
            route(
                "GET",
                f"{P}/providers/Microsoft.ClassicCompute/virtualMachines",
                self._collection("classic_vms", "Microsoft.ClassicCompute/virtualMachines/read"),
                "classicVms.list",
            ),
            route(
                "GET",
                f"{net}/networkInterfaces",
                self._collection("nics", "Microsoft.Network/networkInterfaces/read"),
                "nics.list",
            ),
            route(
                "GET",
                f"{net}/networkSecurityGroups",
                self._collection("nsgs", "Microsoft.Network/networkSecurityGroups/read"),
                "nsgs.list",
            ),
            route(
                "GET",
                f"{net}/virtualNetworks",
                self._collection("vnets", "Microsoft.Network/virtualNetworks/read"),
                "vnets.list",
            ),
            route(
                "GET",
                f"{net}/publicIPAddresses",
                self._collection("pips", "Microsoft.Network/publicIPAddresses/read"),
                "publicIps.list",
            ),
            route(
                "GET",
                f"{net}/azureFirewalls",
                self._collection("firewalls", "Microsoft.Network/azureFirewalls/read"),
                "firewalls.list",
            ),
            route(
                "GET",
                f"{net}/applicationSecurityGroups",
                self._collection("asgs", "Microsoft.Network/applicationSecurityGroups/read"),
                "asgs.list",
            ),
            route(
                "GET",
                f"{P}/resourceGroups/{{rg}}/providers/Microsoft.Network/applicationSecurityGroups/{{name}}",
                self._single("asgs", "Microsoft.Network/applicationSecurityGroups"),
                "asgs.get",
            ),
            route(
                "GET",
                f"{P}/resourceGroups/{{rg}}/providers/Microsoft.Network/networkSecurityGroups/{{name}}",
                self._single("nsgs", "Microsoft.Network/networkSecurityGroups"),
                "nsgs.get",
            ),
            route("GET", f"{NSG}/securityRules", self.list_security_rules, "securityRules.list"),
            route("GET", f"{NSG}/securityRules/{{rule}}", self.get_security_rule, "securityRules.get"),
            route("PUT", f"{NSG}/securityRules/{{rule}}", self.put_security_rule, "securityRules.put"),
            route("DELETE", f"{NSG}/securityRules/{{rule}}", self.delete_security_rule, "securityRules.delete"),
            route("GET", f"{net}/locations/{{loc}}/operations/{{op}}", self.network_operation, "networkOperations.get"),
            route(
                "GET",
                f"{net}/locations/{{loc}}/operationResults/{{op}}",
                self.network_operation_result,
                "networkOperations.result",
            ),
            route(
                "GET",
                f"{P}/resourceGroups/{{rg}}/providers/Microsoft.Network/networkInterfaces/{{name}}",
                self._single("nics", "Microsoft.Network/networkInterfaces"),
                "nics.get",
            ),
            route(
                "GET",
                f"{P}/resourceGroups/{{rg}}/providers/Microsoft.Network/publicIPAddresses/{{name}}",
                self._single("pips", "Microsoft.Network/publicIPAddresses"),
                "publicIps.get",
            ),
            route("GET", f"{P}/providers/Microsoft.Security/pricings", self.list_pricings, "pricings.list"),
            route("GET", f"{P}/providers/Microsoft.Security/jitNetworkAccessPolicies", self.list_policies, "jit.list"),
            route(
                "GET",
                f"{P}/providers/Microsoft.Security/locations/{{loc}}/jitNetworkAccessPolicies",
                self.list_policies,
                "jit.listByRegion",
            ),
            route(
                "GET",
                f"{P}/resourceGroups/{{rg}}/providers/Microsoft.Security/jitNetworkAccessPolicies",
                self.list_policies,
                "jit.listByResourceGroup",
            ),
            route("GET", JIT_BASE, self.list_policies, "jit.listByResourceGroupAndRegion"),
            route("GET", f"{JIT_BASE}/{{name}}", self.get_policy, "jit.get"),
            route("PUT", f"{JIT_BASE}/{{name}}", self.put_policy, "jit.put"),
            route("DELETE", f"{JIT_BASE}/{{name}}", self.delete_policy, "jit.delete"),
            route("POST", f"{JIT_BASE}/{{name}}/{{kind}}", self.initiate, "jit.initiate"),
            route(
                "GET",
                f"{P}/providers/Microsoft.Insights/eventtypes/management/values",
                self.activity_log,
                "activityLog.list",
            ),
            route(
                "GET", f"{P}/providers/Microsoft.Authorization/permissions", self.list_permissions, "permissions.list"
            ),
            route(
                "GET",
                f"{P}/resourceGroups/{{rg}}/providers/Microsoft.Authorization/permissions",
                self.list_permissions,
                "permissions.listForResourceGroup",
            ),
            *self._authorization_routes(),
        ]

    def _authorization_routes(self) -> list:
        rg = f"{P}/resourceGroups/{{rg}}"
        return [
            route(
                "GET",
                f"{P}/{AUTHORIZATION}/roleAssignments",
                self.list_role_assignments,
                "roleAssignments.listForSubscription",
            ),
            route(
                "GET",
                f"{rg}/{AUTHORIZATION}/roleAssignments",
                self.list_role_assignments,
                "roleAssignments.listForScope",
            ),
            route("GET", f"{P}/{AUTHORIZATION}/roleDefinitions", self.list_role_definitions, "roleDefinitions.list"),
            route("GET", f"{rg}/{AUTHORIZATION}/roleDefinitions", self.list_role_definitions, "roleDefinitions.list"),
            route(
                "GET", f"{P}/{AUTHORIZATION}/roleDefinitions/{{role}}", self.get_role_definition, "roleDefinitions.get"
            ),
            route(
                "GET", f"{rg}/{AUTHORIZATION}/roleDefinitions/{{role}}", self.get_role_definition, "roleDefinitions.get"
            ),
            route(
                "GET", f"/{AUTHORIZATION}/roleDefinitions/{{role}}", self.get_role_definition, "roleDefinitions.getById"
            ),
        ]

    # --- plumbing --------------------------------------------------------------------------------
    def caller(self, request: Request) -> dict:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        try:
            claims = self.identity.decode_arm_token(header[7:].strip())
        except jwt.InvalidAudienceError:
            raise ArmError(
                401,
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource.",
            ) from None
        except jwt.PyJWTError:
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.") from None
        now = self.sandbox.clock.now()
        if claims.get("exp", 0) <= now.timestamp():
            expired = dt.datetime.fromtimestamp(claims.get("exp", 0), dt.UTC)
            raise ArmError(
                401,
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{expired:%m/%d/%Y %I:%M:%S %p}' is earlier than "
                f"current UTC time '{now:%m/%d/%Y %I:%M:%S %p}'.",
            )
        # An app-only token has no upn; ARM then names the client by its application id.
        return {
            "oid": claims["oid"],
            "upn": claims.get("upn") or claims.get("appid", ""),
            "name": claims.get("name", ""),
            "ip": request.client_ip,
            "appid": claims.get("appid", ""),
            "iat": claims.get("iat", 0),
            "exp": claims.get("exp", 0),
            "client_request_id": request.headers.get("x-ms-client-request-id", ""),
        }

    def _require(self, caller: dict, action: str, scope: str) -> str:
        """Refuse unless a role of the caller allows the action at the scope; return that role's name."""
        role = rbac.granting_role(self._assignments(scope), caller["oid"], action, scope)
        if not role:
            raise ArmError(403, "AuthorizationFailed", rbac.denied_message(caller["upn"], caller["oid"], action, scope))
        return role

    def _assignments(self, scope: str) -> list[dict]:
        """The role assignments that can hold at `scope` or below it, in the world's order: those of its subscription
        and those above any subscription. Indexed per fleet (assignments change only with it): a generated fleet
        has twenty per subscription, and scanning 20,000 on every call (under the lock) made the sandbox, not the
        portal, what a 1,000-subscription `make bench` measured."""
        if self._assignments_generation != self.sandbox.generation:
            self._assignments_by_sub, self._assignments_generation = {}, self.sandbox.generation
            for position, assignment in enumerate(self.sandbox.world["role_assignments"]):
                self._assignments_by_sub.setdefault(_subscription_of(assignment["scope"]), []).append(
                    (position, assignment)
                )
        sub = _subscription_of(scope)
        if not sub:
            return self.sandbox.world["role_assignments"]
        found = self._assignments_by_sub.get("", []) + self._assignments_by_sub.get(sub, [])
        return [assignment for _, assignment in sorted(found, key=lambda pair: pair[0])]

    def _subscription(self, sub_id: str) -> dict:
        found = next(
            (s for s in self.sandbox.world["subscriptions"] if s["subscriptionId"].lower() == sub_id.lower()), None
        )
        if found is None:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found.")
        return found

    def check_api_version(self, operation: str, request: Request) -> None:
        """ARM refuses a missing or unserved api-version before the resource provider sees the call."""
        version = request.query.get("api-version")
        if not version:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        namespace, resource_type, supported = API_VERSIONS[operation.split(".")[0]]
        if version in supported:
            return
        listed = ", ".join(supported)
        if namespace == "Microsoft.Resources":  # ARM's own routes, not a resource provider's
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are '{listed}'.",
            )
        location = request.params.get("loc", "global")
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location '{location}' and API version "
            f"'{version}' for type '{resource_type}'. The supported api-versions are '{listed}'. "
            f"The supported locations are '{', '.join(self._locations())}'.",
        )

    def unknown_route(self, request: Request) -> ArmError:
        namespace = re.search(r"/providers/([^/]+)", request.path, re.IGNORECASE)
        if namespace and namespace[1].lower() not in {n.lower() for n, _, _ in API_VERSIONS.values()}:
            return ArmError(400, "InvalidResourceNamespace", f"The resource namespace '{namespace[1]}' is invalid.")
        return ArmError(404, "InvalidResourceType", f"The resource type for '{request.path}' could not be found.")

    def _locations(self) -> list[str]:
        return sorted({vm["location"] for vm in self.sandbox.world["vms"].values()})

    def _resource_group(self, sub_id: str, rg: str) -> None:
        if self._groups_generation != self.sandbox.generation:
            self._groups_generation = self.sandbox.generation
            self._groups = {
                "/".join(key.split("/")[:5])
                for store in ("vms", "nics", "nsgs", "vnets", "pips", "firewalls")
                for key in self.sandbox.world[store]
            }
        if f"/subscriptions/{sub_id}/resourcegroups/{rg}".lower() not in self._groups:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")

    def _visible(self, caller: dict, action: str, sub_id: str, items: list[dict], id_field: str = "id") -> list[dict]:
        """ARM lists at subscription scope only what the caller may read, and refuses if that is nothing."""
        scope = f"/subscriptions/{sub_id}"
        whole, readable_groups = rbac.readable(self._assignments(scope), caller["oid"], action, scope)
        if whole:
            return items
        if not readable_groups:
            self._require(caller, action, scope)
        return [i for i in items if "/".join(i[id_field].split("/")[:5]).lower() in readable_groups]

    def _page(self, request: Request, items: list[dict]) -> Response:
        size = self.sandbox.knobs.page_size
        try:
            start = max(0, int(request.query.get("$skiptoken", "0")))
        except ValueError:
            raise ArmError(400, "InvalidSkipToken", "The $skiptoken is invalid.") from None
        body: dict = {"value": items[start : start + size]}
        if start + size < len(items):
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(start + size)
            body["nextLink"] = f"{request.base_url}{request.path}?{urlencode(query)}"
        return json_response(200, body)

    def _in_sub(self, store: str, sub_id: str) -> list[dict]:
        """The store's resources in one subscription; indexed, since generated fleets are large."""
        self.sandbox.world.setdefault(store, {})  # a world saved before the store existed
        # Policies are written (added, removed) by requests: their index lasts one world version, the others' a fleet.
        version = (self.sandbox.generation, self.sandbox.version if store == "policies" else 0)
        if self._index_versions.get(store) != version:
            self._index = {key: found for key, found in self._index.items() if key[0] != store}
            self._index_versions[store] = version
        key = (store, sub_id.lower())
        if key not in self._index:
            by_sub: dict[tuple[str, str], list[dict]] = {}
            for resource_key, resource in self.sandbox.world[store].items():
                by_sub.setdefault((store, resource_key.split("/")[2]), []).append(resource)
            for sub in self.sandbox.world["subscriptions"]:
                self._index[(store, sub["subscriptionId"].lower())] = by_sub.get(
                    (store, sub["subscriptionId"].lower()), []
                )
        return self._index.get(key, [])

    # --- handlers --------------------------------------------------------------------------------
    def list_subscriptions(self, request: Request) -> Response:
        caller = self.caller(request)
        mine = [a["scope"].lower() for a in self.sandbox.world["role_assignments"] if rbac.holds(a, caller["oid"])]
        subs = [
            s for s in self.sandbox.world["subscriptions"] if any(scope.startswith(s["id"].lower()) for scope in mine)
        ]
        return self._page(request, subs)

    def _kept_page(self, request: Request, caller: dict, make: Callable[[], Response]) -> Response:
        """A list page as it was last sent to this caller, while nothing was written since: rendering and
        serializing a generated fleet's 30 MB of JSON on every load made the sandbox, not the portal, the
        bottleneck of `make bench`'s floor."""
        if self._pages_version != (self.sandbox.generation, self.sandbox.version) or len(self._pages) > KEPT_PAGES:
            self._pages, self._pages_version = {}, (self.sandbox.generation, self.sandbox.version)
        key = (
            caller["oid"],
            request.base_url,
            request.path.lower(),
            tuple(sorted(request.query.items())),
            self.sandbox.knobs.page_size,
        )
        body = self._pages.get(key)
        if body is None:
            response = make()
            if response.status != 200:
                return response
            body = self._pages[key] = response.body
        return Response(200, body, {"Content-Type": "application/json; charset=utf-8"})

    def list_vms(self, request: Request) -> Response:
        caller = self.caller(request)
        sub_id = self._subscription(request.params["sub"])["subscriptionId"]

        def make() -> Response:
            vms = self._visible(caller, "Microsoft.Compute/virtualMachines/read", sub_id, self._in_sub("vms", sub_id))
            status_only = request.query.get("statusOnly", "").lower() == "true"
            return self._page(request, [render_vm(vm, status_only) for vm in vms])

        return self._kept_page(request, caller, make)

    def instance_view(self, request: Request) -> Response:
        caller = self.caller(request)
        sub_id = self._subscription(request.params["sub"])["subscriptionId"]
        vm_id = f"/subscriptions/{sub_id}/resourceGroups/{request.params['rg']}/providers/Microsoft.Compute/virtualMachines/{request.params['vm']}"
        self._require(caller, "Microsoft.Compute/virtualMachines/read", vm_id)
        self._resource_group(sub_id, request.params["rg"])
        vm = self.sandbox.world["vms"].get(vm_id.lower())
        if vm is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Compute/virtualMachines/{request.params['vm']}' under resource "
                f"group '{request.params['rg']}' was not found.",
            )
        return json_response(200, _instance_view(vm))

    def _collection(self, store: str, action: str):
        def handler(request: Request) -> Response:
            caller = self.caller(request)
            sub_id = self._subscription(request.params["sub"])["subscriptionId"]
            return self._kept_page(
                request,
                caller,
                lambda: self._page(request, self._visible(caller, action, sub_id, self._in_sub(store, sub_id))),
            )

        return handler

    def _single(self, store: str, resource_type: str):
        def handler(request: Request) -> Response:
            caller = self.caller(request)
            sub_id = self._subscription(request.params["sub"])["subscriptionId"]
            rg, name = request.params["rg"], request.params["name"]
            resource_id = f"/subscriptions/{sub_id}/resourceGroups/{rg}/providers/{resource_type}/{name}"
            self._require(caller, f"{resource_type}/read", resource_id)
            self._resource_group(sub_id, rg)
            found = self.sandbox.world[store].get(resource_id.lower())
            if found is None:
                raise ArmError(
                    404,
                    "ResourceNotFound",
                    f"The Resource '{resource_type}/{name}' under resource group '{rg}' was not found.",
                )
            return json_response(200, found)

        return handler

    def list_pricings(self, request: Request) -> Response:
        caller = self.caller(request)
        sub_id = self._subscription(request.params["sub"])["subscriptionId"]
        self._require(caller, "Microsoft.Security/pricings/read", f"/subscriptions/{sub_id}")
        return json_response(200, {"value": [self.sandbox.world["pricings"][sub_id.lower()]]})

    def list_policies(self, request: Request) -> Response:
        caller = self.caller(request)
        sub_id = self._subscription(request.params["sub"])["subscriptionId"]
        rg, loc = request.params.get("rg"), request.params.get("loc")
        policies = [
            p
            for p in self._in_sub("policies", sub_id)
            if (rg is None or p["id"].split("/")[4].lower() == rg.lower())
            and (loc is None or p["location"].lower() == loc.lower())
        ]
        action = f"{rbac.JIT}/read"
        if rg is not None:
            self._require(caller, action, f"/subscriptions/{sub_id}/resourceGroups/{rg}")
            self._resource_group(sub_id, rg)
        else:
            policies = self._visible(caller, action, sub_id, policies)
        return self._page(request, [self._render_policy(p) for p in policies])

    def _render_policy(self, policy: dict) -> dict:
        written = self.sandbox.world["policy_written_at"].get(policy["id"].lower())
        recent = written and self.sandbox.clock.now() - parse_time(written) < dt.timedelta(seconds=5)
        properties = dict(
            policy["properties"], provisioningState="Updating" if recent else "Succeeded", appendMode=False
        )
        return dict(policy, properties=properties)

    def _policy_target(self, request: Request) -> tuple[str, str, str, str, str]:
        sub_id = self._subscription(request.params["sub"])["subscriptionId"]
        rg, loc, name = request.params["rg"], request.params["loc"], request.params["name"]
        return policy_id(sub_id, rg, loc, name), sub_id, rg, loc, name

    def get_policy(self, request: Request) -> Response:
        caller = self.caller(request)
        pid, sub_id, rg, *_ = self._policy_target(request)
        self._require(caller, f"{rbac.JIT}/read", pid)
        self._resource_group(sub_id, rg)
        policy = self.sandbox.world["policies"].get(pid.lower())
        if policy is None:
            raise ArmError(404, "NotFound", f"Jit network access policy '{pid}' was not found.")
        return json_response(200, self._render_policy(policy))

    def put_policy(self, request: Request) -> Response:
        caller = self.caller(request)
        pid, sub_id, rg, loc, name = self._policy_target(request)
        caller["role"] = self._require(caller, f"{rbac.JIT}/write", pid)
        self._resource_group(sub_id, rg)
        body = request.json()
        if body is INVALID:
            raise ArmError(
                400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
            )
        # As Defender for Cloud documents: configuring JIT on a VM also needs write on that VM.
        for vm_id in _vm_ids(body):
            self._require(caller, rbac.COMPUTE_WRITE, vm_id)
        now = self.sandbox.clock.now()
        correlation = request.headers["x-ms-correlation-request-id"]
        try:
            policy = jit.put_policy(self.sandbox.world, pid, sub_id, rg, loc, name, body, now)
        except ArmError:
            activity.record(self.sandbox.world, "write", pid, caller, "Failed", now, correlation, "BadRequest")
            self.sandbox.save()
            raise
        activity.record(self.sandbox.world, "write", pid, caller, "Succeeded", now, correlation, "OK")
        self.sandbox.save()
        return json_response(200, self._render_policy(policy))

    def list_permissions(self, request: Request) -> Response:
        """Microsoft.Authorization/permissions: the caller's actions and notActions at a subscription or group,
        inherited from above; anyone signed in may ask about themselves."""
        caller = self.caller(request)
        sub_id = self._subscription(request.params["sub"])["subscriptionId"]
        scope = f"/subscriptions/{sub_id}"
        if "rg" in request.params:
            self._resource_group(sub_id, request.params["rg"])
            scope += f"/resourceGroups/{request.params['rg']}"
        return json_response(200, {"value": rbac.permissions(self._assignments(scope), caller["oid"], scope)})

    def _authorization_scope(self, request: Request) -> tuple[str, str]:
        """The subscription or resource group a Microsoft.Authorization call names: (scope, subscription id)."""
        sub_id = self._subscription(request.params["sub"])["subscriptionId"]
        scope = f"/subscriptions/{sub_id}"
        if "rg" in request.params:
            self._resource_group(sub_id, request.params["rg"])
            scope += f"/resourceGroups/{request.params['rg']}"
        return scope, sub_id

    def list_role_assignments(self, request: Request) -> Response:
        """Who holds which role at, above and below a scope, from the assignments the sandbox enforces."""
        caller = self.caller(request)
        scope, _ = self._authorization_scope(request)
        self._require(caller, "Microsoft.Authorization/roleAssignments/read", scope)
        return self._page(
            request,
            authorization.assignments(self.sandbox.world["role_assignments"], scope, request.query.get("$filter", "")),
        )

    def list_role_definitions(self, request: Request) -> Response:
        caller = self.caller(request)
        scope, sub_id = self._authorization_scope(request)
        self._require(caller, "Microsoft.Authorization/roleDefinitions/read", scope)
        return self._page(
            request,
            authorization.definitions(
                f"/subscriptions/{sub_id}", self._subscription_ids(), request.query.get("$filter", "")
            ),
        )

    def get_role_definition(self, request: Request) -> Response:
        """By name at a scope, or by its tenant-rooted id (built-in roles resolve there), as ARM answers."""
        caller = self.caller(request)
        root = ""
        if "sub" in request.params:
            scope, sub_id = self._authorization_scope(request)
            self._require(caller, "Microsoft.Authorization/roleDefinitions/read", scope)
            root = f"/subscriptions/{sub_id}"
        role = authorization.role_by_id(request.params["role"])
        if role is None:
            raise ArmError(
                404,
                "RoleDefinitionDoesNotExist",
                f"The specified role definition with ID '{request.params['role']}' does not exist.",
            )
        return json_response(200, authorization.definition(role, root, self._subscription_ids()))

    def _subscription_ids(self) -> list[str]:
        return [s["subscriptionId"] for s in self.sandbox.world["subscriptions"]]

    def delete_policy(self, request: Request) -> Response:
        caller = self.caller(request)
        pid, sub_id, rg, *_ = self._policy_target(request)
        caller["role"] = self._require(caller, f"{rbac.JIT}/delete", pid)
        self._resource_group(sub_id, rg)
        if not jit.delete_policy(self.sandbox.world, pid):
            return Response(204)
        correlation = request.headers["x-ms-correlation-request-id"]
        activity.record(
            self.sandbox.world, "delete", pid, caller, "Succeeded", self.sandbox.clock.now(), correlation, "OK"
        )
        self.sandbox.save()
        return Response(200)

    def initiate(self, request: Request) -> Response:
        if request.params["kind"] != "initiate":
            raise ArmError(404, "NotFound", "The requested operation is not supported.")
        caller = self.caller(request)
        pid, sub_id, rg, *_ = self._policy_target(request)
        caller["role"] = self._require(caller, f"{rbac.JIT}/initiate/action", pid)
        self._resource_group(sub_id, rg)
        body = request.json()
        if body is INVALID:
            raise ArmError(
                400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
            )
        now = self.sandbox.clock.now()
        correlation = request.headers["x-ms-correlation-request-id"]
        try:
            result = jit.initiate(self.sandbox.world, pid, body, caller["upn"], request.client_ip, now)
        except ArmError as error:
            if error.status != 404:
                activity.record(self.sandbox.world, "initiate", pid, caller, "Failed", now, correlation, "BadRequest")
                self.sandbox.save()
            raise
        activity.record(self.sandbox.world, "initiate", pid, caller, "Succeeded", now, correlation, "Accepted")
        self.sandbox.save()
        return json_response(202, result)

    # --- NSG security rules: long-running operations, as the SDK's begin_create_or_update/begin_delete expect ----
    def _nsg(self, request: Request, caller: dict, action: str) -> tuple[dict, str]:
        sub_id = self._subscription(request.params["sub"])["subscriptionId"]
        rg, name = request.params["rg"], request.params["nsg"]
        nsg_id = f"/subscriptions/{sub_id}/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityGroups/{name}"
        self._require(caller, action, nsg_id)
        self._resource_group(sub_id, rg)
        found = self.sandbox.world["nsgs"].get(nsg_id.lower())
        if found is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Network/networkSecurityGroups/{name}' "
                f"under resource group '{rg}' was not found.",
            )
        return found, sub_id

    def list_security_rules(self, request: Request) -> Response:
        group, _ = self._nsg(
            request, self.caller(request), "Microsoft.Network/networkSecurityGroups/securityRules/read"
        )
        return self._page(request, group["properties"]["securityRules"])

    def get_security_rule(self, request: Request) -> Response:
        group, _ = self._nsg(
            request, self.caller(request), "Microsoft.Network/networkSecurityGroups/securityRules/read"
        )
        return json_response(200, self._rule(group, request.params["rule"]))

    def _rule(self, group: dict, name: str) -> dict:
        found = next((r for r in group["properties"]["securityRules"] if r["name"].lower() == name.lower()), None)
        if found is None:
            raise ArmError(404, "NotFound", f"Resource '{group['id']}/securityRules/{name}' not found.")
        return found

    def put_security_rule(self, request: Request) -> Response:
        caller = self.caller(request)
        group, sub_id = self._nsg(request, caller, "Microsoft.Network/networkSecurityGroups/securityRules/write")
        body, name = request.json(), request.params["rule"]
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict) or not RULE_NAME.match(name):
            raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request.")
        priority = properties.get("priority")
        if not isinstance(priority, int) or not 100 <= priority <= 4096:
            raise ArmError(
                400,
                "SecurityRuleInvalidPriority",
                f"Security rule {name} has invalid Priority. Value provided: {priority}. Allowed range 100-4096.",
            )
        for key in ("protocol", "access", "direction"):
            if not properties.get(key):
                raise ArmError(400, "InvalidRequestFormat", f"Security rule {name} is missing {key}.")
        rules = group["properties"]["securityRules"]
        clash = next(
            (
                r
                for r in rules
                if r["name"].lower() != name.lower()
                and r["properties"]["priority"] == priority
                and r["properties"]["direction"] == properties["direction"]
            ),
            None,
        )
        if clash is not None:
            raise ArmError(
                400,
                "SecurityRuleConflict",
                f"Security rule {name} conflicts with rule {clash['name']}. Rules cannot have the same "
                "Priority and Direction.",
            )
        existed = any(r["name"].lower() == name.lower() for r in rules)
        rule = {
            "id": f"{group['id']}/securityRules/{name}",
            "name": name,
            "type": "Microsoft.Network/networkSecurityGroups/securityRules",
            "properties": {
                **{k: v for k, v in properties.items() if k != "provisioningState"},
                "provisioningState": "Succeeded",
            },
        }
        group["properties"]["securityRules"] = [r for r in rules if r["name"].lower() != name.lower()] + [rule]
        self.sandbox.save()
        return json_response(200 if existed else 201, rule, self._operation_headers(request, sub_id, group))

    def delete_security_rule(self, request: Request) -> Response:
        caller = self.caller(request)
        group, sub_id = self._nsg(request, caller, "Microsoft.Network/networkSecurityGroups/securityRules/delete")
        rules = group["properties"]["securityRules"]
        kept = [r for r in rules if r["name"].lower() != request.params["rule"].lower()]
        if len(kept) == len(rules):
            return Response(204)
        group["properties"]["securityRules"] = kept
        self.sandbox.save()
        headers = self._operation_headers(request, sub_id, group)
        headers["Location"] = headers["Azure-AsyncOperation"].replace("/operations/", "/operationResults/")
        return Response(202, b"", headers)

    def _operation_headers(self, request: Request, sub_id: str, group: dict) -> dict[str, str]:
        """Where the SDK's poller asks how the operation went; the sandbox applies writes at once, so it has."""
        version = request.query.get("api-version", "")
        url = (
            f"{request.base_url}/subscriptions/{sub_id}/providers/Microsoft.Network/locations/{group['location']}"
            f"/operations/{uuid.uuid4()}?api-version={version}"
        )
        return {"Azure-AsyncOperation": url, "Retry-After": "0"}

    def network_operation(self, request: Request) -> Response:
        self.caller(request)
        return json_response(200, {"status": "Succeeded"})

    def network_operation_result(self, request: Request) -> Response:
        self.caller(request)
        return Response(204)

    def activity_log(self, request: Request) -> Response:
        caller = self.caller(request)
        sub_id = self._subscription(request.params["sub"])["subscriptionId"]
        now = self.sandbox.clock.now()
        query = activity.parse_filter(request.query.get("$filter", ""), now)
        if query.start < now - RETENTION - dt.timedelta(days=1):
            raise ArmError(400, "BadRequest", "The time range in $filter must lie within the last 90 days.")
        events = activity.between(self.sandbox.world["activity"], sub_id, query)
        visible = self._visible(
            caller, "Microsoft.Insights/eventtypes/values/read", sub_id, events, id_field="resourceId"
        )
        return self._page(request, activity.select(visible, request.query.get("$select", "")))


def _power_status(vm: dict) -> dict:
    display = {"running": "VM running", "stopped": "VM stopped", "deallocated": "VM deallocated"}[vm["power"]]
    return {"code": f"PowerState/{vm['power']}", "level": "Info", "displayStatus": display}


def _instance_view(vm: dict) -> dict:
    return {
        "computerName": vm["name"],
        "osName": "ubuntu" if vm["os"] == "Linux" else "Windows Server 2022 Datacenter",
        "statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"},
            _power_status(vm),
        ],
    }


_OS_CONFIG = {
    "Linux": ("linuxConfiguration", {"disablePasswordAuthentication": True}),
    "Windows": ("windowsConfiguration", {"provisionVMAgent": True}),
}
_MANAGED_DISK = {"storageAccountType": "Premium_LRS"}
_PRIMARY = {"primary": True}


@cache
def _hardware(size: str) -> dict:
    return {"vmSize": size}


def render_vm(vm: dict, status_only: bool = False) -> dict:
    """A VM as ARM lists it. Parts that do not vary per VM are shared between answers (they are only
    serialized, never changed): Resource Graph renders 100,000 of these for one query family."""
    base = {"id": vm["id"], "name": vm["name"], "type": "Microsoft.Compute/virtualMachines", "location": vm["location"]}
    if status_only:
        return dict(base, properties={"vmId": vm["vmId"], "instanceView": _instance_view(vm)})
    os_key, os_config = _OS_CONFIG[vm["os"]]
    return dict(
        base,
        properties={
            "vmId": vm["vmId"],
            "hardwareProfile": _hardware(vm["size"]),
            "storageProfile": {
                "osDisk": {
                    "osType": vm["os"],
                    "name": f"{vm['name']}_OsDisk_1",
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "managedDisk": _MANAGED_DISK,
                }
            },
            "osProfile": {"computerName": vm["name"], "adminUsername": "azureuser", os_key: os_config},
            "networkProfile": {"networkInterfaces": [{"id": vm["nic"], "properties": _PRIMARY}]},
            "provisioningState": "Succeeded",
        },
    )
