"""The one place SDK clients are built (endpoint, CA bundle, timeouts, retries) and Azure errors translated."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from django.conf import settings

from .auth import UserCredential
from .errors import (
    AccessDenied,
    Conflict,
    GatewayError,
    InvalidRequest,
    NotFound,
    SignInRequired,
    Throttled,
    Unavailable,
)

T = TypeVar("T")
_DENIED = re.compile(r"perform action '(?P<action>[^']+)' over scope '(?P<scope>[^']+)'")


def client_options(credential: UserCredential) -> dict:
    scope = settings.AZURE_ARM_SCOPE
    return {
        "credential": credential,
        "base_url": settings.AZURE_ARM_URL,
        "credential_scopes": [scope],
        "connection_verify": settings.AZURE_CA_BUNDLE or True,
        "connection_timeout": 10,
        "read_timeout": settings.AZURE_TIMEOUT_SECONDS,
        "retry_total": settings.AZURE_RETRIES,
        "retry_backoff_factor": 0.3,
        "retry_backoff_max": 10,
        "logging_enable": False,
    }


def call(credential: UserCredential, operation: Callable[[], T], what: str) -> T:
    """Run one SDK operation as the user; on 401 refresh the token once and retry."""
    try:
        try:
            return operation()
        except ClientAuthenticationError:
            credential.force_refresh()
            return operation()
    except GatewayError:
        raise
    except ClientAuthenticationError as exc:
        raise SignInRequired("Azure no longer accepts your sign-in. Please sign in again.") from exc
    except ResourceNotFoundError as exc:
        raise NotFound(f"Azure could not find {what}: {_message(exc)}", correlation_id=_correlation(exc)) from exc
    except ResourceExistsError as exc:
        raise Conflict(f"Azure reported a conflict on {what}: {_message(exc)}", correlation_id=_correlation(exc)) from exc
    except HttpResponseError as exc:
        raise translate(exc, what) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise Unavailable(f"Azure could not be reached for {what}; please try again shortly.") from exc


def translate(exc: HttpResponseError, what: str) -> GatewayError:
    status = exc.status_code or 0
    correlation = _correlation(exc)
    if status == 403:
        found = _DENIED.search(_message(exc))
        if found:
            return AccessDenied(f"Azure refused: you lack {found['action']} on {found['scope']}.",
                                action=found["action"], scope=found["scope"], correlation_id=correlation)
        return AccessDenied(f"Azure refused {what}: {_message(exc)}", correlation_id=correlation)
    if status == 429:
        return Throttled(f"Azure is throttling requests for {what}; please try again in a minute.",
                         correlation_id=correlation)
    if status == 400:
        return InvalidRequest(f"Azure refused {what}: {_message(exc)}", correlation_id=correlation)
    if status == 409:
        return Conflict(f"Azure reported a conflict on {what}: {_message(exc)}", correlation_id=correlation)
    return Unavailable(f"Azure failed on {what} (HTTP {status}); please try again shortly.", correlation_id=correlation)


def _message(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    return getattr(error, "message", None) or str(exc.message or exc).splitlines()[0]


def _correlation(exc: HttpResponseError) -> str:
    response = getattr(exc, "response", None)
    return response.headers.get("x-ms-correlation-request-id", "") if response is not None else ""
