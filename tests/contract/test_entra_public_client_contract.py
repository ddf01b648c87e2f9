"""The public client grants held against Microsoft's documentation (shared/azure-spec-examples/entra/FLOWS.md:
v2-oauth2-device-code.md [DC], v2-oauth2-auth-code-flow.md [AC], reference-error-codes.md [ERR] and the
AADSTS7000218 support article [SUP218]): the device authorization answer, the polling errors, the success
answer, and the error body every token-endpoint refusal carries."""

from __future__ import annotations

import re

import pytest

from sandbox import demo

pytestmark = pytest.mark.integration

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SUFFIX = re.compile(
    r" Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
)


def _start(sandbox, client_id: str = demo.CLI_CLIENT_ID):
    return sandbox.http().post(
        f"{sandbox.base_url}/{demo.TENANT_ID}/oauth2/v2.0/devicecode",
        data={"client_id": client_id, "scope": f"{demo.CLI_SCOPE} offline_access openid"},
    )


def _poll(sandbox, device_code: str, **extra):
    return sandbox.http().post(
        f"{sandbox.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token",
        data={"grant_type": DEVICE_GRANT, "client_id": demo.CLI_CLIENT_ID, "device_code": device_code, **extra},
    )


def _assert_entra_error(answer, error: str, code: int) -> None:
    """[ERR]: error (the field to branch on), error_description starting AADSTSnnnnn and ending with the
    trace ids, error_codes, timestamp, trace_id, correlation_id."""
    body = answer.json()
    assert answer.status_code in (400, 401) and body["error"] == error, body
    assert body["error_codes"] == [code] and body["error_description"].startswith(f"AADSTS{code}: ")
    assert SUFFIX.search(body["error_description"])
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


def test_discovery_names_the_device_authorization_endpoint(sandbox):
    config = sandbox.http().get(f"{sandbox.base_url}/{demo.TENANT_ID}/v2.0/.well-known/openid-configuration").json()
    assert config["device_authorization_endpoint"] == f"{sandbox.base_url}/{demo.TENANT_ID}/oauth2/v2.0/devicecode"


def test_the_device_authorization_answer_has_the_documented_fields_only(sandbox):
    answer = _start(sandbox)
    body = answer.json()
    # [DC] 1a: these six, and no verification_uri_complete; 15 minutes by default.
    assert answer.status_code == 200 and set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "expires_in",
        "interval",
        "message",
    }
    assert body["expires_in"] == 900 and isinstance(body["interval"], int)
    assert body["user_code"] in body["message"] and body["verification_uri"] in body["message"]


def test_polling_before_the_person_acts_is_pending(sandbox):
    _assert_entra_error(_poll(sandbox, _start(sandbox).json()["device_code"]), "authorization_pending", 70016)


def test_an_unknown_device_code_is_a_bad_verification_code(sandbox):
    _assert_entra_error(_poll(sandbox, "not-a-device-code"), "bad_verification_code", 70018)


def test_an_expired_device_code_is_expired_token(sandbox):
    device_code = _start(sandbox).json()["device_code"]
    sandbox.advance("PT15M")
    _assert_entra_error(_poll(sandbox, device_code), "expired_token", 70019)


def test_a_declined_device_code_is_authorization_declined(sandbox):
    started = _start(sandbox).json()
    sandbox.control("POST", f"device-codes/{started['user_code']}", {"decline": True})
    answer = _poll(sandbox, started["device_code"])
    assert answer.json()["error"] == "authorization_declined"


def test_an_approved_device_code_gives_the_documented_success_once(sandbox):
    started = _start(sandbox).json()
    sandbox.control("POST", f"device-codes/{started['user_code']}", {"user": "alice"})
    answer = _poll(sandbox, started["device_code"])
    body = answer.json()
    # [DC] 1b: token_type, scope, expires_in, access_token; id_token with openid, refresh_token with offline_access.
    assert answer.status_code == 200 and body["token_type"] == "Bearer" and body["scope"] == demo.CLI_SCOPE
    assert {"access_token", "id_token", "refresh_token"} <= set(body) and isinstance(body["expires_in"], int)
    assert answer.headers["Cache-Control"] == "no-store"
    _assert_entra_error(_poll(sandbox, started["device_code"]), "invalid_grant", 54005)


def test_a_confidential_registration_asks_for_the_secret_it_lacks(sandbox):
    """[SUP218]: with "Allow public client flows" off, the device code's token call is invalid_client 7000218."""
    sandbox.control("POST", f"public-clients/{demo.CLI_CLIENT_ID}", {"allow_public_client_flows": False})
    _assert_entra_error(_poll(sandbox, _start(sandbox).json()["device_code"]), "invalid_client", 7000218)


def test_a_public_client_sending_a_secret_is_refused(sandbox):
    """[ERR] AADSTS700025: a public client must not present a credential."""
    _assert_entra_error(
        _poll(sandbox, _start(sandbox).json()["device_code"], client_secret="x"), "invalid_client", 700025
    )


def test_the_device_flow_is_for_registered_clients_only(sandbox):
    _assert_entra_error(_start(sandbox, "00000000-0000-4000-8000-00000000dead"), "unauthorized_client", 700016)
