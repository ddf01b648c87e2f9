"""Azure Monitor's Logs Ingestion API (data plane, 2023-01-01), as Microsoft documents it, for one data collection
rule and its stream: `POST /dataCollectionRules/{immutableId}/streams/{stream}?api-version=2023-01-01`.

- An app-only bearer token for `https://monitor.azure.com` (scope `https://monitor.azure.com//.default`), from a
  principal holding Monitoring Metrics Publisher on the rule (the audit reader) → else 401 / 403.
- `Content-Type: application/json`, optionally `Content-Encoding: gzip`; the body a JSON array of objects.
- 204 No Content on success; errors `{"error": {"code", "message"}}` with `x-ms-error-code`.
- Limits: 1 MB per call, compressed and uncompressed (413); a value over 64 KB is truncated; 429 with
  `Retry-After` (injected with the fault knob, operation `ingestion.upload`, as the sandbox counts no budget).

What arrived is kept in memory for tests (`GET /_sandbox/ingested`), each record as uploaded plus the moment it
arrived, until a reset."""

from __future__ import annotations

import gzip
import json
import threading
import zlib

import jwt

from . import demo
from .http import Request, Response, json_response, route
from .identity import Identity
from .state import Sandbox

API_VERSION = "2023-01-01"
MAX_CALL_BYTES = 1024 * 1024
MAX_VALUE_CHARS = 64 * 1024
PUBLISHERS = {a.object_id for a in demo.APPS if a.key == "audit-reader"}  # Monitoring Metrics Publisher on the rule


class Ingestion:
    def __init__(self, sandbox: Sandbox, identity: Identity) -> None:
        self.sandbox = sandbox
        self.identity = identity
        self.lock = threading.Lock()
        self.received: list[dict] = []  # what arrived, for tests to read back
        self.calls = 0

    def routes(self) -> list:
        return [route("POST", "/dataCollectionRules/{rule}/streams/{stream}", self.upload, "ingestion.upload")]

    def forget(self) -> None:
        with self.lock:
            self.received.clear()
            self.calls = 0

    def upload(self, request: Request) -> Response:
        if request.query.get("api-version") != API_VERSION:
            return _error(
                400,
                "InvalidApiVersion",
                f"The api-version '{request.query.get('api-version')}' is not "
                f"supported. Supported versions: {API_VERSION}.",
            )
        principal = self._principal(request)
        if isinstance(principal, Response):
            return principal
        if request.params["rule"] != demo.INGESTION_RULE_ID:
            return _error(
                404, "NotFound", f"Data collection rule with immutable Id '{request.params['rule']}' not found."
            )
        if principal not in PUBLISHERS:
            return _error(
                403,
                "OperationFailed",
                "The authentication token provided does not have access to ingest "
                "data for the data collection rule with immutable Id "
                f"'{demo.INGESTION_RULE_ID}'.",
            )
        if request.params["stream"] != demo.INGESTION_STREAM:
            return _error(
                400,
                "InvalidStream",
                f"Stream '{request.params['stream']}' is not declared in the data collection rule.",
            )
        if not request.headers.get("content-type", "").startswith("application/json"):
            return _error(415, "UnsupportedMediaType", "Content-Type must be application/json.")
        body = request.body
        if len(body) > MAX_CALL_BYTES:
            return _error(413, "ContentLengthLimitExceeded", "Maximum request body size is 1MB.")
        if request.headers.get("content-encoding", "").lower() == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                return _error(400, "InvalidContentEncoding", "The body is not valid gzip.")
            if len(body) > MAX_CALL_BYTES:
                return _error(413, "ContentLengthLimitExceeded", "Maximum uncompressed request body size is 1MB.")
        try:
            records = json.loads(body)
        except ValueError:
            return _error(400, "InvalidJson", "The request body is malformed JSON.")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            return _error(400, "InvalidPayload", "The request body must be a JSON array of objects.")
        arrived = self.sandbox.clock.now().isoformat()
        with self.lock:
            self.calls += 1
            self.received.extend({**{k: _truncated(v) for k, v in r.items()}, "_arrived": arrived} for r in records)
        return Response(204)

    def _principal(self, request: Request) -> str | Response:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _error(401, "InvalidToken", "The Authorization header is missing or is not a bearer token.")
        try:
            claims = self.identity.decode_arm_token(header[7:].strip(), demo.MONITOR_AUDIENCE)
        except jwt.PyJWTError:
            return _error(
                401, "InvalidToken", "The token's signature or audience (https://monitor.azure.com) is invalid."
            )
        if claims["exp"] <= self.sandbox.clock.now().timestamp():
            return _error(401, "TokenExpired", "The access token has expired.")
        if claims.get("idtyp") != "app":
            return _error(403, "OperationFailed", "Logs Ingestion takes app-only tokens here.")
        return claims["oid"]


def _truncated(value: object) -> object:
    return value[:MAX_VALUE_CHARS] if isinstance(value, str) else value


def _error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"error": {"code": code, "message": message}}, {"x-ms-error-code": code})
