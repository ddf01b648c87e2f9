"""The HTTPS server: one port for Entra ID, ARM and the control API."""

from __future__ import annotations

import ipaddress
import logging
import ssl
import time
import uuid
from contextlib import nullcontext
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from . import certs, demo
from .arm import Arm
from .control import Control
from .device import PublicClients
from .errors import ArmError
from .graph import Graph
from .http import Request, Response, json_response, match
from .identity import Identity
from .ingestion import Ingestion
from .state import STALL_AFTER_APPLY, Fault, Sandbox

log = logging.getLogger("sandbox")


class App:
    def __init__(self, data_dir: Path, port: int, graph_lag_seconds: float = 0.0) -> None:
        self.material = certs.ensure(data_dir)
        self.sandbox = Sandbox(data_dir, graph_lag_seconds)
        self.identity = Identity(self.sandbox, self.material.signing_key_path, self.material.client_certificate_path)
        self.public_clients = PublicClients(self.identity)
        self.arm = Arm(self.sandbox, self.identity)
        self.graph = Graph(self.sandbox, self.arm)
        self.ingestion = Ingestion(self.sandbox, self.identity)
        self.control = Control(
            self.sandbox, self.identity, self.material, self.public_clients, self.ingestion, self.graph
        )
        self.port = port
        self.control_routes = self.control.routes()
        self.identity_routes = self.identity.routes() + self.public_clients.routes()
        self.arm_routes = self.arm.routes() + self.graph.routes()
        self.ingestion_routes = self.ingestion.routes()

    def handle(self, request: Request) -> Response | None:
        """Return the response, or None to drop the connection (an injected fault)."""
        if request.path.startswith("/_sandbox/"):
            if not ipaddress.ip_address(request.client_ip).is_loopback:
                return json_response(403, {"error": "the control API answers loopback only"})
            return self._dispatch(
                self.control_routes, request, lambda: json_response(404, {"error": "no such control"})
            )
        if request.path.lower().startswith(
            ("/subscriptions", "/providers/microsoft.authorization/", "/providers/microsoft.resourcegraph/")
        ):
            return self._arm(request)
        if request.path.lower().startswith("/datacollectionrules/"):
            return self._ingest(request)
        return self._dispatch(self.identity_routes, request, lambda: json_response(404, {"error": "not_found"}))

    def _dispatch(self, routes, request: Request, not_found) -> Response:
        found, params, _ = match(routes, request.method, request.path)
        if found is None:
            return not_found()
        request.params = params
        return found.handler(request)

    def _arm(self, request: Request) -> Response | None:
        # ARM makes a correlation id when the client sends none; handlers put it on Activity Log events.
        request.headers["x-ms-correlation-request-id"] = request.headers.get("x-ms-correlation-request-id") or str(
            uuid.uuid4()
        )
        response = self._arm_answer(request)
        if response is not None:
            _arm_headers(request, response)
        return response

    def _arm_answer(self, request: Request) -> Response | None:
        found, params, other_method = match(self.arm_routes, request.method, request.path)
        if found is None:
            if other_method:
                return _arm_error(ArmError(405, "MethodNotAllowed", f"The method '{request.method}' is not allowed."))
            return _arm_error(self.arm.unknown_route(request))
        request.params = params
        with self.sandbox.lock:
            self.sandbox.stats[found.operation] += 1
            delay = self.sandbox.knobs.delay_ms(found.operation, request.path)
        if delay:
            time.sleep(delay / 1000)
        fault = self.sandbox.take_fault(found.operation, request.path)
        if fault is not None and fault.kind != STALL_AFTER_APPLY:
            return _fault_response(fault, request)
        self.sandbox.tick()
        try:
            self.arm.check_api_version(found.operation, request)
            # Resource Graph reads its own index and takes the world's lock only for a moment: a query over a
            # 100,000-VM fleet must not hold every other call.
            with nullcontext() if found.operation.startswith("resourceGraph.") else self.sandbox.lock:
                response = found.handler(request)
        except ArmError as error:
            response = _arm_error(error)
        if fault is not None:  # the write is done; the answer comes late, or never
            time.sleep(fault.seconds)
            if fault.drop_after:
                return None
        return response

    def _ingest(self, request: Request) -> Response | None:
        """Logs Ingestion (sandbox/ingestion.py), with the same fault knob as ARM's routes (429, 503, drop)."""
        fault = self.sandbox.take_fault("ingestion.upload", request.path)
        if fault is not None and fault.kind != STALL_AFTER_APPLY:
            return _fault_response(fault, request)
        response = self._dispatch(
            self.ingestion_routes,
            request,
            lambda: json_response(404, {"error": {"code": "NotFound", "message": "No such route."}}),
        )
        if fault is not None:  # accepted; the answer comes late, or never
            time.sleep(fault.seconds)
            if fault.drop_after:
                return None
        return response


def _arm_headers(request: Request, response: Response) -> None:
    """What ARM adds to every answer, errors and throttling included."""
    write = request.method not in ("GET", "HEAD")
    response.headers["x-ms-request-id"] = str(uuid.uuid4())
    response.headers["x-ms-correlation-request-id"] = request.headers["x-ms-correlation-request-id"]
    # The sandbox does not count a budget: the headers say how much is left of a fresh one.
    response.headers[f"x-ms-ratelimit-remaining-subscription-{'writes' if write else 'reads'}"] = (
        "1199" if write else "11999"
    )
    if response.status == 401:
        response.headers["WWW-Authenticate"] = (
            f'Bearer authorization_uri="{request.base_url}/{demo.TENANT_ID}", error="invalid_token", '
            "error_description=\"The authentication failed because of missing or invalid 'Authorization' header.\""
        )


def _arm_error(error: ArmError) -> Response:
    return json_response(error.status, error.body(), error.headers)


def _fault_response(fault: Fault, request: Request) -> Response | None:
    if fault.kind == "drop":
        return None
    status = int(fault.kind)
    if status == 429:
        kind = "read" if request.method in ("GET", "HEAD") else "write"
        sub_id = request.params.get("sub", "")
        code, message = (
            "SubscriptionRequestsThrottled",
            f"Number of '{kind}' requests for subscription '{sub_id}' exceeded. Please try again after "
            f"'{fault.retry_after}' seconds after additional tokens are available. Refer to "
            "https://aka.ms/arm-throttling",
        )
    else:
        code, message = {
            500: ("InternalServerError", "The server encountered an internal error."),
            503: ("ServiceUnavailable", "The service is temporarily unavailable."),
        }.get(status, ("Failed", "Injected fault."))
    headers = {"Retry-After": str(fault.retry_after)} if status in (429, 503) else {}
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes; without this each waits ~40 ms
    server_version = "jitportal-sandbox"
    app: App

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        host = self.headers.get("Host") or f"127.0.0.1:{self.app.port}"
        request = Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client_ip=self.client_address[0],
            base_url=f"https://{host}",
        )
        try:
            response = self.app.handle(request)
        except Exception:  # a bug in the sandbox must look like a 500 from Azure, not a hang
            log.exception("sandbox error on %s %s", self.command, split.path)
            response = json_response(500, {"error": {"code": "InternalServerError", "message": "Sandbox bug."}})
        if response is None:
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() != "content-length":  # sent once, below, from the body itself
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def date_time_string(self, timestamp: float | None = None) -> str:
        # ARM's Date header tells clients Azure's time; here that is the sandbox clock.
        return formatdate(self.app.sandbox.clock.now().timestamp(), usegmt=True)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        log.info("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    # The portal opens a few dozen connections at once (one list per subscription and kind); with the
    # default backlog of 5 the kernel drops SYNs and each dropped client waits a 1 s retransmission.
    request_queue_size = 256
    daemon_threads = True


def make_server(
    data_dir: Path, port: int, host: str = "127.0.0.1", graph_lag_seconds: float = 0.0
) -> tuple[ThreadingHTTPServer, App]:
    server = _Server((host, port), _Handler)
    app = App(data_dir, server.server_address[1], graph_lag_seconds)
    handler = type("Handler", (_Handler,), {"app": app})
    server.RequestHandlerClass = handler
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(app.material.cert_path, app.material.key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server, app
