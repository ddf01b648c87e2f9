"""The one place SDK clients are built (endpoint, CA bundle, timeouts, retries), calls run as the
person, and Azure's refusals become our errors."""

from __future__ import annotations

import contextvars
import json
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import requests
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.security import SecurityCenter
from django.conf import settings
from django.db import connections
from urllib3.util.retry import Retry

from .auth import UserCredential
from .correlations import note_correlation
from .errors import (
    AccessDenied,
    Conflict,
    GatewayError,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    SignInRequired,
    Throttled,
    Unavailable,
)

T = TypeVar("T")
R = TypeVar("R")
_DENIED = re.compile(r"perform action '(?P<action>[^']+)' over scope '(?P<scope>[^']+)'")


class TokenRejected(Exception):
    """ARM answered 401: the access token expired early or was revoked."""


def _build(kind: type[T], credential: UserCredential, subscription_id: str, **transport) -> T:
    return kind(
        subscription_id=subscription_id,
        credential=credential,
        base_url=settings.AZURE_ARM_URL,
        credential_scopes=[settings.AZURE_ARM_SCOPE],
        connection_verify=settings.AZURE_CA_BUNDLE or True,
        **timeouts(),
        retry_total=settings.AZURE_RETRIES,
        retry_backoff_factor=0.3,
        retry_backoff_max=10,
        logging_enable=False,
        **transport,
    )


@cache
def _read_transport() -> RequestsTransport:
    """One pool of connections to ARM for every person's reads, as wide as the calls run at once.

    A connection carries no identity (each request brings its person's token), and a TLS handshake costs
    both sides milliseconds of CPU: a client per person and subscription, each with its own pool, made a
    cold 10,000-VM page open ~1,100 connections; this pool opens AZURE_PARALLEL_CALLS once per process."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4,
        pool_maxsize=settings.AZURE_PARALLEL_CALLS,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )  # azure-core's policy retries
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return RequestsTransport(
        session=session, session_owner=False, connection_verify=settings.AZURE_CA_BUNDLE or True, **timeouts()
    )


def reader(credential: UserCredential, subscription_id: str = "") -> ComputeManagementClient:
    """A client whose public `send_request` reads any ARM path as plain JSON through the SDK pipeline;
    one per person and subscription, all on the process's shared connections."""
    return credential.keep(
        ("reader", subscription_id),
        lambda: _build(ComputeManagementClient, credential, subscription_id, transport=_read_transport()),
    )


def security(credential: UserCredential, subscription_id: str) -> SecurityCenter:
    """The JIT operations that change Azure (the SDK's models shape their bodies)."""
    return credential.keep(
        ("security", subscription_id),
        lambda: _build(SecurityCenter, credential, subscription_id, transport=_read_transport()),
    )


def network(credential: UserCredential, subscription_id: str) -> NetworkManagementClient:
    """NSG rule writes (long-running operations: the SDK's poller follows Azure-AsyncOperation)."""
    return credential.keep(
        ("network", subscription_id),
        lambda: _build(
            NetworkManagementClient, credential, subscription_id, transport=_read_transport(), polling_interval=1
        ),
    )


def raw_answer(pipeline_response, _deserialized, _headers) -> tuple[dict, str]:
    """The SDK's `cls` hook: Azure's answer as JSON (for our one parser) and its correlation id."""
    answer = pipeline_response.http_response
    return json.loads(answer.text() or "{}"), answer.headers.get("x-ms-correlation-request-id", "")


def timeouts() -> dict:
    """Each call's timeouts, from the settings of the moment: the shared transport keeps those it was made with."""
    return {"connection_timeout": 10, "read_timeout": settings.AZURE_TIMEOUT_SECONDS}


def write_options(correlation_id: str) -> dict:
    """Per-call options of a change: our own correlation id, so that the change can be found again in
    Azure and its Activity Log; and no blind retry — azure-core would repeat a POST on 500/503 or
    Retry-After, and a change whose answer was lost may already be applied."""
    note_correlation(correlation_id)
    return {"retry_total": 0, "headers": {"x-ms-correlation-request-id": correlation_id}, **timeouts()}


def call(credential: UserCredential, operation: Callable[[], T], what: str, *, change: bool = False) -> T:
    """Run one ARM operation as the person; on 401 refresh the token once and retry.

    For a `change`, a lost answer (timeout, dropped connection, 500/502/503/504) is OutcomeUnknown:
    the request reached Azure, which may have applied it."""
    try:
        try:
            return operation()
        except (TokenRejected, ClientAuthenticationError):
            credential.force_refresh()
            return operation()
    except (TokenRejected, ClientAuthenticationError) as exc:
        raise SignInRequired("Azure no longer accepts your sign-in. Please sign in again.") from exc
    except HttpResponseError as exc:
        answer = exc.response
        if change and exc.status_code in (500, 502, 503, 504):
            raise OutcomeUnknown(
                f"Azure failed to answer on {what} (HTTP {exc.status_code}).",
                correlation_id=answer.headers.get("x-ms-correlation-request-id", ""),
            ) from exc
        raise refusal(
            exc.status_code or 0,
            answer.text() if answer is not None else "",
            answer.headers if answer is not None else {},
            what,
        ) from exc
    except ServiceResponseTimeoutError as exc:
        if change:
            raise OutcomeUnknown(f"Azure did not answer in time on {what}.") from exc
        raise Unavailable(f"Azure did not answer in time for {what}; please try again shortly.") from exc
    except ServiceResponseError as exc:
        # azure-core's other answer failure: the connection closed (or broke) before the answer came.
        if change:
            raise OutcomeUnknown(f"The connection to Azure was lost before its answer on {what}.") from exc
        raise Unavailable(
            f"The connection to Azure was lost before its answer for {what}; please try again shortly."
        ) from exc
    except ServiceRequestError as exc:
        raise Unavailable(f"Azure could not be reached for {what}; please try again shortly.") from exc


def refusal(status: int, body: str | bytes, headers, what: str) -> GatewayError:
    """ARM's error answer (status, `{"error": {"code", "message"}}` envelope) in words."""
    message, correlation = _message(body), headers.get("x-ms-correlation-request-id", "")
    if status == 403:
        found = _DENIED.search(message)
        if found:
            return AccessDenied(
                f"Azure refused: you lack {found['action']} on {found['scope']}.",
                action=found["action"],
                scope=found["scope"],
                correlation_id=correlation,
            )
        return AccessDenied(f"Azure refused {what}: {message}", correlation_id=correlation)
    if status == 404:
        return NotFound(f"Azure could not find {what}: {message}", correlation_id=correlation)
    if status == 429:
        return Throttled(
            f"Azure is throttling requests for {what}; please try again in a minute.", correlation_id=correlation
        )
    if status == 400:
        return InvalidRequest(f"Azure refused {what}: {message}", correlation_id=correlation)
    if status == 409:
        return Conflict(f"Azure reported a conflict on {what}: {message}", correlation_id=correlation)
    return Unavailable(f"Azure failed on {what} (HTTP {status}); please try again shortly.", correlation_id=correlation)


def _message(body: str | bytes) -> str:
    try:
        error = json.loads(body or b"{}").get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    text = error.get("message") if isinstance(error, dict) else None
    if not text:
        text = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body or "no details").strip()
    return text.splitlines()[0][:500] if text else "no details"


@cache
def _kept_threads() -> ThreadPoolExecutor:
    """Threads kept for `parallel`'s calls, grown on demand and shared by everyone's requests.

    Starting a thread waits until it takes the GIL from the threads already busy with Azure: a request's six
    initiates spent 12 ms starting their threads, the last call leaving that much later. A kept thread takes
    its call at once. Room for four times AZURE_PARALLEL_CALLS, so that people's calls do not queue behind
    one another's."""
    return ThreadPoolExecutor(max_workers=4 * settings.AZURE_PARALLEL_CALLS, thread_name_prefix="arm")


def parallel(work: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`work` on every item at once (up to AZURE_PARALLEL_CALLS of this caller's), results in the items' order.

    Each call runs in a copy of the caller's context, so that the request's log line still gathers Azure's
    correlation ids. `work` must not call `parallel` itself: the kept threads could all end up waiting."""
    items = list(items)
    if len(items) <= 1:
        return [work(i) for i in items]
    room = threading.BoundedSemaphore(settings.AZURE_PARALLEL_CALLS)

    def one(context: contextvars.Context, item: T) -> R:
        try:
            return context.run(work, item)
        finally:
            room.release()
            connections.close_all()  # a kept thread must not keep a database connection it happened to open

    futures = []
    for item in items:
        room.acquire()  # the caller waits here for its own earlier calls, never another person's
        futures.append(_kept_threads().submit(one, contextvars.copy_context(), item))
    return [future.result() for future in futures]
