"""No call the OpenAPI document describes gets a server error: schemathesis generates each operation's inputs
from the document (valid and not), sent with a real token of Alice, Bob, Carol or Hana — or with the
generated, mostly bogus, Authorization header. `make test` sends a few examples per operation; `make fuzz`
(API_FUZZ_EXAMPLES, default 250 there) many more."""

from __future__ import annotations

import json
import os
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from django.db import transaction
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import api_token
from tests.conftest import MY_IP, PORTAL_HOST

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "12"))
PEOPLE = ("alice", "bob", "carol", "hana", None)  # None: the header schemathesis made up
SENT: dict[str, int] = {}


@pytest.fixture(scope="module")
def tokens(sandbox_process, django_db_setup, django_db_blocker) -> dict[str, str]:
    sandbox_process.reset()
    with django_db_blocker.unblock(), transaction.atomic():
        yield {key: api_token(sandbox_process, key) for key in PEOPLE if key}
        transaction.set_rollback(True)
    print(f"\n{sum(SENT.values())} API calls sent over {len(SENT)} operations")


def _operations():
    from api.urls import api

    schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
    return [result.ok() for result in schema.get_all_operations()]


def _send(client: Client, case, token: str | None):
    path = case.path
    for name, value in (case.path_parameters or {}).items():
        path = path.replace(f"{{{name}}}", quote(str(value), safe=""))
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    headers["Authorization"] = f"Bearer {token}" if token else (case.headers or {}).get("Authorization", "")
    if case.method.upper() == "GET":
        return client.get(path, case.query or {}, headers=headers, REMOTE_ADDR=MY_IP)
    body = case.body
    if type(body).__name__ == "NotSet":  # an operation without a body
        body = ""
    elif not isinstance(body, bytes | str):
        body = json.dumps(body)
    query = urlencode(case.query or {}, doseq=True)
    return client.generic(
        case.method.upper(),
        f"{path}?{query}" if query else path,
        body,
        content_type=case.media_type or "application/json",
        headers=headers,
        REMOTE_ADDR=MY_IP,
    )


@override_settings(API_RATE_PER_MINUTE=1_000_000, API_WRITES_PER_MINUTE=1_000_000)
@pytest.mark.parametrize("operation", _operations(), ids=lambda op: f"{op.method.upper()} {op.path}")
def test_no_operation_gives_a_server_error(tokens, operation):
    client = Client(HTTP_HOST=PORTAL_HOST)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("API_FUZZ_EXAMPLES"),
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), who=st.sampled_from(PEOPLE))
    def run(case, who):
        response = _send(client, case, tokens.get(who) if who else None)
        if response.streaming:
            b"".join(response.streaming_content)  # a download fails while it streams, after its status
        SENT[operation.label] = SENT.get(operation.label, 0) + 1
        assert response.status_code < 500, (
            case.method,
            case.path,
            case.path_parameters,
            case.query,
            case.body,
            who,
            response.content[:500],
        )

    run()
