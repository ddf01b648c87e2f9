"""Logs as one JSON object per line on stdout, and one such line per request.

A request's line carries its id, the person's tenant and object ids, the Azure correlation ids of the
changes it made, its duration and status: enough to follow one click from the load balancer to Azure's
Activity Log. It never carries a query string (the sign-in callback's holds an authorization code),
a header, a cookie or a token: only the fields named here reach the log.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

from core.gateway.correlations import CORRELATIONS

logger = logging.getLogger("jitportal.request")

# A load balancer's request id is kept when it looks like one; anything else could be used to forge lines.
_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# The LogRecord attributes a line may carry besides its message; everything else a caller attaches is dropped.
FIELDS = (
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "tid",
    "oid",
    "correlation_ids",
    "sink",
    "delivered",
    "behind_events",
    "behind_seconds",
    "failures",
)  # the last: the audit stream's


def forbidden_in_one_line() -> Callable[[logging.LogRecord], bool]:
    """A 403 is a refusal the portal meant, not a fault: its record keeps the line and drops the traceback."""

    def keep(record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info, record.exc_text = None, None
        return True

    return keep


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if request_id := getattr(record, "request_id", "") or _REQUEST_ID.get():
            line["request_id"] = request_id
        line.update({name: getattr(record, name) for name in FIELDS[1:] if hasattr(record, name)})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def request_log(get_response: Callable[[HttpRequest], HttpResponse]):
    """Outermost middleware: give the request an id (also in the X-Request-ID answer header) and log its line."""

    def middleware(request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        id_token, correlations_token = _REQUEST_ID.set(request_id), CORRELATIONS.set([])
        started = time.monotonic()
        try:
            response = get_response(request)
            response["X-Request-ID"] = request_id
            user = getattr(request, "user", None)
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "tid": getattr(user, "tenant_id", "") or "",
                    "oid": getattr(user, "object_id", "") or "",
                    "correlation_ids": CORRELATIONS.get() or [],
                },
            )
            return response
        finally:
            _REQUEST_ID.reset(id_token)
            CORRELATIONS.reset(correlations_token)

    return middleware
