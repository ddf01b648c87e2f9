"""The sandbox's Logs Ingestion endpoint answers as Azure documents it (monitor-ingestion/SOURCES.md): app-only tokens
for https://monitor.azure.com, the rule's immutableId and stream, api-version 2023-01-01, 204, 1 MB per call, JSON
arrays of objects, and its error envelope with x-ms-error-code."""

from __future__ import annotations

import gzip
import json

import pytest

pytestmark = pytest.mark.integration


def _token(sandbox, app: str, scope: str) -> str:
    client = next(a for a in sandbox.info()["apps"] if a["display_name"] == app)
    answer = sandbox.http().post(
        f"{sandbox.info()['authority']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "scope": scope,
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def _upload(
    sandbox,
    token: str,
    body: bytes,
    *,
    version: str = "2023-01-01",
    rule: str = "",
    stream: str = "",
    gzipped: bool = False,
):
    where = sandbox.info()["logs_ingestion"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return sandbox.http().post(
        f"{where['endpoint']}/dataCollectionRules/{rule or where['rule_id']}/streams/{stream or where['stream']}",
        params={"api-version": version},
        data=body,
        headers=headers,
        timeout=10,
    )


@pytest.fixture
def monitor_token(sandbox) -> str:
    return _token(sandbox, "jitportal audit reader", "https://monitor.azure.com//.default")


def test_it_takes_a_gzipped_array_with_204_and_lets_tests_read_it_back(sandbox, monitor_token):
    answer = _upload(sandbox, monitor_token, gzip.compress(b'[{"EventId": "a"}, {"EventId": "b"}]'), gzipped=True)
    assert answer.status_code == 204 and answer.content == b""
    assert [r["EventId"] for r in sandbox.control("GET", "ingested")["records"]] == ["a", "b"]


@pytest.mark.parametrize(
    "case, status, code",
    [
        ("api-version", 400, "InvalidApiVersion"),
        ("rule", 404, "NotFound"),
        ("stream", 400, "InvalidStream"),
        ("not an array", 400, "InvalidPayload"),
        ("over 1 MB", 413, "ContentLengthLimitExceeded"),
    ],
)
def test_it_refuses_what_azure_refuses(sandbox, monitor_token, case, status, code):
    body, more = b'[{"a": 1}]', {}
    if case == "api-version":
        more["version"] = "2021-11-01-preview"
    elif case == "rule":
        more["rule"] = "dcr-00000000000000000000000000000000"
    elif case == "stream":
        more["stream"] = "Custom-Other_CL"
    elif case == "not an array":
        body = b'{"a": 1}'
    else:
        body = json.dumps([{"x": "y" * 1000}] * 1100).encode()
    answer = _upload(sandbox, monitor_token, body, **more)
    assert answer.status_code == status and answer.headers["x-ms-error-code"] == code
    assert answer.json()["error"]["code"] == code and sandbox.control("GET", "ingested")["records"] == []


def test_an_arm_token_or_an_app_without_the_publisher_role_is_refused(sandbox):
    arm = _token(sandbox, "jitportal audit reader", "https://management.azure.com/.default")
    assert _upload(sandbox, arm, b"[]").status_code == 401
    portal = _token(sandbox, "jitportal", "https://monitor.azure.com/.default")
    assert _upload(sandbox, portal, b"[]").status_code == 403


def test_a_429_fault_carries_retry_after(sandbox, monitor_token):
    sandbox.control("POST", "faults", {"operation": "ingestion.upload", "kind": "429", "retry_after": 7})
    answer = _upload(sandbox, monitor_token, b'[{"a": 1}]')
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
