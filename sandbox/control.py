"""The control API under /_sandbox/: what tests and benchmarks use to steer the sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import demo
from .http import Request, Response, json_response, route
from .state import Fault, Knobs
from .timeutil import format_time, parse_duration, parse_time

if TYPE_CHECKING:
    from .server import App


def _bad(message: str) -> Response:
    return json_response(400, {"error": message})


def routes(app: App) -> list:
    sandbox = app.sandbox

    def info(request: Request) -> Response:
        from .server import info as describe
        with sandbox.lock:
            return json_response(200, describe(app, request.base_url))

    def stats(request: Request) -> Response:
        with sandbox.lock:
            return json_response(200, {"calls": dict(sandbox.stats), "total": sum(sandbox.stats.values())})

    def reset_stats(request: Request) -> Response:
        with sandbox.lock:
            sandbox.stats.clear()
        return json_response(200, {"calls": {}, "total": 0})

    def clock(request: Request) -> Response:
        return json_response(200, {"now": format_time(sandbox.clock.now()),
                                   "offset_seconds": sandbox.clock.offset_seconds})

    def move_clock(request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return _bad('send {"advance": "PT2H"} or {"set": "2026-01-01T00:00:00Z"}')
        try:
            if "advance" in body:
                step = parse_duration(body["advance"])
            else:
                step = parse_time(body["set"]) - sandbox.clock.now()
        except (KeyError, ValueError, TypeError) as exc:
            return _bad(f"bad clock change: {exc}")
        with sandbox.lock:
            sandbox.clock.advance(step)
            sandbox.save()
        sandbox.tick()
        return clock(request)

    def latency(request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("ms"), int) or body["ms"] < 0:
            return _bad('send {"operation": "vms.list" or "*", "ms": 250}')
        with sandbox.lock:
            sandbox.knobs.latency_ms[str(body.get("operation", "*"))] = body["ms"]
            return json_response(200, {"latency_ms": sandbox.knobs.latency_ms})

    def add_fault(request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or str(body.get("kind")) not in ("429", "500", "503", "drop"):
            return _bad('send {"operation": "jit.initiate", "kind": "429"|"500"|"503"|"drop", "count": 1} '
                        '(or "rate": 0.5; optional "retry_after", "path_contains")')
        fault = Fault(operation=str(body.get("operation", "*")), kind=str(body["kind"]),
                      count=body.get("count") if "rate" not in body else None, rate=float(body.get("rate", 1.0)),
                      retry_after=int(body.get("retry_after", 1)), path_contains=str(body.get("path_contains", "")))
        if fault.count is None and "rate" not in body:
            fault.count = 1
        with sandbox.lock:
            sandbox.knobs.faults.append(fault)
        return json_response(200, {"faults": len(sandbox.knobs.faults)})

    def clear_faults(request: Request) -> Response:
        with sandbox.lock:
            sandbox.knobs.faults.clear()
            sandbox.knobs.latency_ms.clear()
        return json_response(200, {"faults": 0})

    def config(request: Request) -> Response:
        body = request.json()
        allowed = set(Knobs.__dataclass_fields__) - {"latency_ms", "faults"}
        if not isinstance(body, dict) or not set(body) <= allowed or not all(
                isinstance(v, int) and v > 0 for v in body.values()):
            return _bad(f"send positive integers for any of {sorted(allowed)}")
        with sandbox.lock:
            for key, value in body.items():
                setattr(sandbox.knobs, key, value)
        return json_response(200, body)

    def reset(request: Request) -> Response:
        sandbox.reset()
        return json_response(200, {"reset": True, "now": format_time(sandbox.clock.now())})

    def replace_fleet(request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not all(isinstance(body.get(k), int) and body[k] > 0
                                                 for k in ("vms", "subscriptions")):
            return _bad('send {"vms": 1000, "subscriptions": 20}')
        if body["vms"] > 100_000 or body["subscriptions"] > body["vms"]:
            return _bad("at most 100000 VMs, and no more subscriptions than VMs")
        sandbox.generate(body["vms"], body["subscriptions"])
        return json_response(200, {"vms": len(sandbox.world["vms"]), "subscriptions": len(sandbox.world["subscriptions"])})

    def set_roles(request: Request) -> Response:
        body = request.json()
        key = request.params["person"]
        if key not in {p.key for p in demo.PEOPLE} or not isinstance(body, dict) or not isinstance(body.get("roles"), list):
            return _bad('send {"roles": ["JIT.Requester"]} to /_sandbox/people/<alice|bob|…>/roles')
        with sandbox.lock:
            sandbox.world.setdefault("app_roles", {})[key] = [str(r) for r in body["roles"]]
            sandbox.save()
        return json_response(200, {"person": key, "roles": body["roles"]})

    return [
        route("GET", "/_sandbox/info", info, "control"),
        route("GET", "/_sandbox/stats", stats, "control"),
        route("POST", "/_sandbox/stats", reset_stats, "control"),
        route("GET", "/_sandbox/clock", clock, "control"),
        route("POST", "/_sandbox/clock", move_clock, "control"),
        route("POST", "/_sandbox/latency", latency, "control"),
        route("POST", "/_sandbox/faults", add_fault, "control"),
        route("DELETE", "/_sandbox/faults", clear_faults, "control"),
        route("POST", "/_sandbox/config", config, "control"),
        route("POST", "/_sandbox/reset", reset, "control"),
        route("POST", "/_sandbox/fleet", replace_fleet, "control"),
        route("POST", "/_sandbox/people/{person}/roles", set_roles, "control"),
    ]
