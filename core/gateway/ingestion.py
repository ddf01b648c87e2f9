"""Azure Monitor's Logs Ingestion API (`azure-monitor-ingestion`): the audit stream's records into a data
collection rule's stream (a custom table such as `JitPortalAudit_CL`), as an app identity (client secret) that
holds Monitoring Metrics Publisher on the rule.

Upload (data plane 2023-01-01): `POST {endpoint}/dataCollectionRules/{immutableId}/streams/{stream}`; the client
splits a list into gzip-compressed calls of at most 1 MB each; 204 on success."""

from __future__ import annotations

from functools import cache

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.monitor.ingestion import LogsIngestionClient
from django.conf import settings

from .app_identity import AppCredential
from .clients import timeouts
from .errors import AccessDenied, InvalidRequest, Throttled, Unavailable


@cache
def _client(endpoint: str, client_id: str, client_secret: str, scope: str) -> LogsIngestionClient:
    """One client per configuration, kept: its credential keeps the app token until it nears expiry."""
    return LogsIngestionClient(
        endpoint,
        AppCredential(client_id, client_secret),
        credential_scopes=[scope],
        connection_verify=settings.AZURE_CA_BUNDLE or True,
        retry_total=0,  # the stream retries
        logging_enable=False,
        **timeouts(),
    )


def upload_logs(records: list[dict]) -> None:
    """Upload `records` to AUDIT_INGESTION_ENDPOINT's rule AUDIT_INGESTION_RULE_ID, stream AUDIT_INGESTION_STREAM.
    All or nothing as far as the caller knows: a failed call raises, and the caller sends the batch again (the
    records carry stable ids, so a receiver can drop what a first, partly accepted attempt had already stored)."""
    client = _client(
        settings.AUDIT_INGESTION_ENDPOINT,
        settings.AUDIT_INGESTION_CLIENT_ID,
        settings.AUDIT_INGESTION_CLIENT_SECRET,
        settings.AUDIT_INGESTION_SCOPE,
    )
    what = f"the Logs Ingestion stream {settings.AUDIT_INGESTION_STREAM}"
    try:
        client.upload(settings.AUDIT_INGESTION_RULE_ID, settings.AUDIT_INGESTION_STREAM, records)
    except ClientAuthenticationError as exc:
        raise AccessDenied(
            f"Azure Monitor refused the app's sign-in for {what}: {str(exc).splitlines()[0][:200]}"
        ) from exc
    except HttpResponseError as exc:
        status = exc.status_code or 0
        code = (exc.response.headers.get("x-ms-error-code", "") if exc.response is not None else "") or status
        if status == 429:
            error = Throttled(f"Azure Monitor is throttling {what} (429).")
            error.retry_after = _seconds(exc.response.headers.get("Retry-After") if exc.response is not None else None)
            raise error from exc
        if status in (401, 403):
            raise AccessDenied(
                f"Azure Monitor refused {what} ({status} {code}): the identity needs Monitoring "
                "Metrics Publisher on the data collection rule."
            ) from exc
        if status in (400, 404, 413, 415):
            raise InvalidRequest(f"Azure Monitor refused {what} ({status} {code}).") from exc
        raise Unavailable(f"Azure Monitor failed on {what} (HTTP {status}).") from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise Unavailable(f"Azure Monitor could not be reached for {what}.") from exc


def _seconds(value: str | None) -> int | None:
    try:
        return max(0, int(value)) if value else None
    except ValueError:
        return None
