"""The control API under /_sandbox/: what tests and benchmarks use to steer the sandbox."""

from __future__ import annotations

from . import demo, nsg, publish
from .certs import Material
from .device import PublicClients
from .graph import Graph
from .http import Request, Response, json_response, route
from .identity import Identity
from .ingestion import Ingestion
from .state import FAULT_KINDS, STALL_AFTER_APPLY, Fault, Knobs, Sandbox
from .timeutil import format_time, parse_duration, parse_time


def _bad(message: str) -> Response:
    return json_response(400, {"error": message})


class Control:
    def __init__(
        self,
        sandbox: Sandbox,
        identity: Identity,
        material: Material,
        public_clients: PublicClients,
        ingestion: Ingestion,
        graph: Graph,
    ) -> None:
        self.sandbox = sandbox
        self.graph = graph
        self.ingestion = ingestion
        self.identity = identity
        self.public_clients = public_clients
        self.ca_path = material.ca_path
        self.client_certificate_path = material.client_certificate_path

    def routes(self) -> list:
        return [
            route("GET", "/_sandbox/info", self.info, "control"),
            route("GET", "/_sandbox/stats", self.stats, "control"),
            route("POST", "/_sandbox/stats", self.reset_stats, "control"),
            route("GET", "/_sandbox/clock", self.clock, "control"),
            route("POST", "/_sandbox/clock", self.move_clock, "control"),
            route("POST", "/_sandbox/latency", self.latency, "control"),
            route("POST", "/_sandbox/faults", self.add_fault, "control"),
            route("DELETE", "/_sandbox/faults", self.clear_faults, "control"),
            route("POST", "/_sandbox/config", self.config, "control"),
            route("GET", "/_sandbox/resource-graph", self.resource_graph, "control"),
            route("POST", "/_sandbox/resource-graph", self.set_resource_graph, "control"),
            route("POST", "/_sandbox/reset", self.reset, "control"),
            route("POST", "/_sandbox/fleet", self.replace_fleet, "control"),
            route("POST", "/_sandbox/history", self.add_history, "control"),
            route("POST", "/_sandbox/people/{person}/roles", self.set_roles, "control"),
            route("GET", "/_sandbox/ingested", self.ingested, "control"),
            route("POST", "/_sandbox/nsgs/redeploy", self.redeploy_nsg, "control"),
            route("GET", "/_sandbox/device-codes", self.device_codes, "control"),
            route("POST", "/_sandbox/device-codes/{user_code}", self.decide_device_code, "control"),
            route("POST", "/_sandbox/public-clients/{client_id}", self.set_public_client, "control"),
            route("POST", "/_sandbox/people/{person}/obo", self.set_obo_conditions, "control"),
        ]

    def info(self, request: Request) -> Response:
        base_url = request.base_url
        with self.sandbox.lock:
            world = self.sandbox.world
            return json_response(
                200,
                {
                    "tenant_id": demo.TENANT_ID,
                    "client_id": demo.CLIENT_ID,
                    "client_secret": demo.CLIENT_SECRET,
                    "authority": f"{base_url}/{demo.TENANT_ID}",
                    "arm_url": base_url,
                    "ca_certificate": str(self.ca_path),
                    "environment": publish.environment(base_url, self.ca_path),
                    "client_certificate_path": str(self.client_certificate_path),
                    # The API the portal's registration exposes (tokens for it: aud = the client id, v2).
                    "api": {"app_id_uri": demo.API_ID_URI, "scope": f"{demo.API_ID_URI}/{demo.API_SCOPE}"},
                    "apps": [
                        {
                            "client_id": a.client_id,
                            "client_secret": a.secret,
                            "object_id": a.object_id,
                            "display_name": a.display_name,
                            "summary": a.summary,
                            "role_assignments": [
                                r for r in world["role_assignments"] if r["principalId"] == a.object_id
                            ],
                        }
                        for a in demo.APPS
                    ],
                    "redirect_uris": "any http://127.0.0.1:<port>/… or http://localhost:<port>/… (loopback only)",
                    "public_clients": [
                        {
                            "client_id": c.client_id,
                            "display_name": c.display_name,
                            "summary": c.summary,
                            "scopes": list(c.scopes),
                            "allow_public_client_flows": self.public_clients.allows_public_flows(c),
                        }
                        for c in demo.PUBLIC_CLIENTS
                    ],
                    "people": [
                        {
                            "username": p.username,
                            "display_name": p.display_name,
                            "object_id": p.object_id,
                            "app_roles": self.identity.app_roles(p),
                            "summary": p.summary,
                            "role_assignments": [
                                a for a in world["role_assignments"] if a["principalId"] == p.object_id
                            ],
                        }
                        for p in demo.PEOPLE
                    ],
                    "groups": [
                        {
                            "display_name": g.display_name,
                            "object_id": g.object_id,
                            "summary": g.summary,
                            "members": [demo.person(m).username for m in g.members],
                            "role_assignments": [
                                a for a in world["role_assignments"] if a["principalId"] == g.object_id
                            ],
                        }
                        for g in demo.GROUPS
                    ],
                    "subscriptions": [
                        {"id": s["subscriptionId"], "name": s["displayName"]} for s in world["subscriptions"]
                    ],
                    "logs_ingestion": {
                        "endpoint": base_url,
                        "rule_id": demo.INGESTION_RULE_ID,
                        "stream": demo.INGESTION_STREAM,
                        "publishers": ["audit-reader"],
                    },
                },
            )

    def ingested(self, request: Request) -> Response:
        """What the Logs Ingestion endpoint accepted since the last reset, in order, and how many calls it took."""
        with self.ingestion.lock:
            return json_response(200, {"records": list(self.ingestion.received), "calls": self.ingestion.calls})

    def stats(self, request: Request) -> Response:
        with self.sandbox.lock:
            return json_response(200, {"calls": dict(self.sandbox.stats), "total": sum(self.sandbox.stats.values())})

    def reset_stats(self, request: Request) -> Response:
        with self.sandbox.lock:
            self.sandbox.stats.clear()
        return json_response(200, {"calls": {}, "total": 0})

    def clock(self, request: Request) -> Response:
        return json_response(
            200, {"now": format_time(self.sandbox.clock.now()), "offset_seconds": self.sandbox.clock.offset_seconds}
        )

    def move_clock(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return _bad('send {"advance": "PT2H"} or {"set": "2026-01-01T00:00:00Z"}')
        try:
            if "advance" in body:
                step = parse_duration(body["advance"])
            else:
                step = parse_time(body["set"]) - self.sandbox.clock.now()
        except (KeyError, ValueError, TypeError) as exc:
            return _bad(f"bad clock change: {exc}")
        with self.sandbox.lock:
            self.sandbox.clock.advance(step)
            self.sandbox.save()
        self.sandbox.tick()
        return self.clock(request)

    def latency(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("ms"), int) or body["ms"] < 0:
            return _bad('send {"operation": "vms.list" or "*", "ms": 250} (optional "path_contains")')
        with self.sandbox.lock:
            latency = self.sandbox.knobs.latency_ms
            latency[(str(body.get("operation", "*")), str(body.get("path_contains", "")))] = body["ms"]
            return json_response(
                200,
                {
                    "latency_ms": [
                        {"operation": op, "path_contains": contains, "ms": ms} for (op, contains), ms in latency.items()
                    ]
                },
            )

    def add_fault(self, request: Request) -> Response:
        body = request.json()
        if (
            not isinstance(body, dict)
            or str(body.get("kind")) not in FAULT_KINDS
            or (body.get("kind") == STALL_AFTER_APPLY and not isinstance(body.get("seconds"), int | float))
        ):
            return _bad(
                'send {"operation": "jit.initiate", "kind": "429"|"500"|"503"|"drop", "count": 1} '
                '(or "rate": 0.5; optional "retry_after", "path_contains"), or {"operation": "jit.put", '
                '"kind": "stall-after-apply", "seconds": 40, "count": 1} (optional "drop_after": true)'
            )
        fault = Fault(
            operation=str(body.get("operation", "*")),
            kind=str(body["kind"]),
            count=body.get("count") if "rate" not in body else None,
            rate=float(body.get("rate", 1.0)),
            retry_after=int(body.get("retry_after", 1)),
            path_contains=str(body.get("path_contains", "")),
            seconds=float(body.get("seconds", 0)),
            drop_after=bool(body.get("drop_after", False)),
        )
        if fault.count is None and "rate" not in body:
            fault.count = 1
        with self.sandbox.lock:
            self.sandbox.knobs.faults.append(fault)
        return json_response(200, {"faults": len(self.sandbox.knobs.faults)})

    def clear_faults(self, request: Request) -> Response:
        with self.sandbox.lock:
            self.sandbox.knobs.faults.clear()
            self.sandbox.knobs.latency_ms.clear()
        return json_response(200, {"faults": 0})

    def config(self, request: Request) -> Response:
        body = request.json()
        allowed = set(Knobs.__dataclass_fields__) - {"latency_ms", "faults", "graph_lag_seconds"}
        if (
            not isinstance(body, dict)
            or not set(body) <= allowed
            or not all(isinstance(v, int) and v > 0 for v in body.values())
        ):
            return _bad(f"send positive integers for any of {sorted(allowed)}")
        with self.sandbox.lock:
            for key, value in body.items():
                setattr(self.sandbox.knobs, key, value)
        return json_response(200, body)

    def resource_graph(self, request: Request) -> Response:
        knobs = self.sandbox.knobs
        return json_response(
            200,
            {
                "lag_seconds": knobs.graph_lag_seconds,
                "quota": knobs.graph_quota,
                "window_seconds": knobs.graph_quota_window_s,
            },
        )

    def set_resource_graph(self, request: Request) -> Response:
        """{"lag_seconds": 5} (writes show in Resource Graph that long after), {"quota": 2, "window_seconds": 5}
        (queries per person per window); a quota change starts everyone's window afresh."""
        body = request.json()
        fields = {"lag_seconds": (int, float), "quota": (int,), "window_seconds": (int,)}
        if (
            not isinstance(body, dict)
            or not body
            or not set(body) <= set(fields)
            or not all(isinstance(v, fields[k]) and not isinstance(v, bool) for k, v in body.items())
            or body.get("lag_seconds", 0) < 0
            or body.get("quota", 1) < 1
            or body.get("window_seconds", 1) < 1
        ):
            return _bad('send any of {"lag_seconds": 0 or more, "quota": 1 or more, "window_seconds": 1 or more}')
        with self.sandbox.lock:
            knobs = self.sandbox.knobs
            knobs.graph_lag_seconds = float(body.get("lag_seconds", knobs.graph_lag_seconds))
            knobs.graph_quota = body.get("quota", knobs.graph_quota)
            knobs.graph_quota_window_s = body.get("window_seconds", knobs.graph_quota_window_s)
        if "lag_seconds" in body:
            self.graph.lag_changed()
        if "quota" in body or "window_seconds" in body:
            self.graph.quota.forget()
        return self.resource_graph(request)

    def reset(self, request: Request) -> Response:
        self.sandbox.reset()
        self.graph.quota.forget()
        self.ingestion.forget()
        return json_response(200, {"reset": True, "now": format_time(self.sandbox.clock.now())})

    def replace_fleet(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), int) and body[k] > 0 for k in ("vms", "subscriptions")
        ):
            return _bad('send {"vms": 1000, "subscriptions": 20} (optional "events": 100000, past requests)')
        events = body.get("events", 0)
        if body["vms"] > 100_000 or body["subscriptions"] > body["vms"]:
            return _bad("at most 100000 VMs, and no more subscriptions than VMs")
        if not isinstance(events, int) or not 0 <= events <= 1_000_000:
            return _bad("events: from 0 to 1000000 past requests")
        self.sandbox.generate(body["vms"], body["subscriptions"], events)
        world = self.sandbox.world
        return json_response(
            200,
            {
                "vms": len(world["vms"]),
                "subscriptions": len(world["subscriptions"]),
                "events": len(world["activity"]) // 2,
            },
        )

    def add_history(self, request: Request) -> Response:
        """More generated requests over the last `within` (ISO 8601), after the fleet's: new Activity Log tail."""
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("events"), int) or not 0 < body["events"] <= 1_000_000:
            return _bad('send {"events": 1000, "within": "PT1H"}')
        try:
            within = parse_duration(str(body.get("within", "PT1H")))
        except ValueError as exc:
            return _bad(f"bad within: {exc}")
        if not self.sandbox.world["policies"]:
            return _bad("no JIT policy to add requests to")
        self.sandbox.add_history(body["events"], within)
        return json_response(200, {"events": len(self.sandbox.world["activity"]) // 2})

    def set_roles(self, request: Request) -> Response:
        body = request.json()
        key = request.params["person"]
        if (
            key not in {p.key for p in demo.PEOPLE}
            or not isinstance(body, dict)
            or not isinstance(body.get("roles"), list)
        ):
            return _bad('send {"roles": ["JIT.Requester"]} to /_sandbox/people/<alice|bob|…>/roles')
        with self.sandbox.lock:
            self.sandbox.world.setdefault("app_roles", {})[key] = [str(r) for r in body["roles"]]
            self.sandbox.save()
        return json_response(200, {"person": key, "roles": body["roles"]})

    def redeploy_nsg(self, request: Request) -> Response:
        """An NSG redeployed from its infrastructure-as-code template: the rules it declares stay, JIT's go
        (MicrosoftDocs/azure-docs#122814; terraform-provider-azurerm PR #10326). With `"reconcile": true` the template
        is re-applied after every change from then on (a reconciling pipeline, or an Azure Policy denying undeclared
        rules), so JIT's writes there do not stay; `false` stops it."""
        body = request.json()
        name = body.get("nsg") if isinstance(body, dict) else None
        keep = body.get("reconcile") if isinstance(body, dict) else None
        if keep is not None and not isinstance(keep, bool):
            return _bad('"reconcile" is true or false')
        with self.sandbox.lock:
            found = [
                n
                for n in self.sandbox.world["nsgs"].values()
                if isinstance(name, str) and name.lower() in (n["name"].lower(), n["id"].lower())
            ]
            if len(found) != 1:
                return _bad('send {"nsg": "<name or id of one NSG>"}')
            dropped = nsg.redeploy(found[0])
            if keep is not None:
                nsg.reconcile(self.sandbox.world, found[0], keep)
            self.sandbox.save()
        return json_response(
            200,
            {
                "nsg": found[0]["id"],
                "dropped": dropped,
                "reconciled": found[0]["id"].lower() in self.sandbox.world.get("reconciled_nsgs", []),
            },
        )

    def device_codes(self, request: Request) -> Response:
        """The device codes waiting for a person, newest last: what a test approves without a browser."""
        return json_response(200, {"pending": self.public_clients.pending()})

    def decide_device_code(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not (isinstance(body.get("user"), str) or body.get("decline") is True):
            return _bad('send {"user": "alice"} to approve the code as that person, or {"decline": true}')
        problem = self.public_clients.decide(request.params["user_code"], None if body.get("decline") else body["user"])
        if problem:
            return _bad(problem)
        return json_response(
            200,
            {"user_code": request.params["user_code"], "decided": "declined" if body.get("decline") else "approved"},
        )

    def set_public_client(self, request: Request) -> Response:
        """{"allow_public_client_flows": false}: the registration's switch; the device code then fails as in Entra."""
        body = request.json()
        client = demo.public_client(request.params["client_id"])
        if client is None or not isinstance(body, dict) or not isinstance(body.get("allow_public_client_flows"), bool):
            return _bad('send {"allow_public_client_flows": true|false} to /_sandbox/public-clients/<client id>')
        self.public_clients.set_public_flows(client, body["allow_public_client_flows"])
        return json_response(
            200, {"client_id": client.client_id, "allow_public_client_flows": body["allow_public_client_flows"]}
        )

    def set_obo_conditions(self, request: Request) -> Response:
        """What the on-behalf-of grant meets for a person: `"consent": false` (nobody consented: AADSTS65001),
        `"mfa": true` (Conditional Access wants MFA for ARM: interaction_required, AADSTS50079)."""
        body = request.json()
        key = request.params["person"]
        if (
            key not in {p.key for p in demo.PEOPLE}
            or not isinstance(body, dict)
            or not body
            or not set(body) <= {"consent", "mfa"}
            or not all(isinstance(v, bool) for v in body.values())
        ):
            return _bad('send {"consent": false} and/or {"mfa": true} to /_sandbox/people/<alice|bob|…>/obo')
        with self.sandbox.lock:
            conditions = self.sandbox.world.setdefault("obo_conditions", {}).setdefault(key, {})
            conditions.update(body)
            self.sandbox.save()
            return json_response(200, {"person": key, **conditions})
