"""The sandbox's public client (the jit command's registration) through a real msal.PublicClientApplication:
the device code with its verification page and control call, the code flow with PKCE and no secret on
http://localhost, tokens for the portal's API, and the registration's "Allow public client flows" switch."""

from __future__ import annotations

import re
import threading

import jwt
import msal
import pytest

from sandbox import demo
from tests.sandbox_client import query_of

pytestmark = pytest.mark.integration

API_SCOPES = [demo.CLI_SCOPE]


def public_app(sandbox, client_id: str = demo.CLI_CLIENT_ID) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        client_id,
        authority=f"{sandbox.base_url}/{demo.TENANT_ID}",
        http_client=sandbox.http(),
        instance_discovery=False,
    )


def fast_polling(sandbox) -> None:
    sandbox.control("POST", "config", {"device_code_interval_s": 1})


def device_login(sandbox, app, decide) -> dict:
    """Start a device flow, let `decide(user_code)` act while MSAL polls, return MSAL's result."""
    flow = app.initiate_device_flow(scopes=API_SCOPES)
    assert "user_code" in flow, flow
    worker = threading.Thread(target=decide, args=(flow["user_code"],))
    worker.start()
    result = app.acquire_token_by_device_flow(flow)
    worker.join()
    return result


def test_a_device_code_approved_on_the_verification_page_signs_the_person_in(sandbox):
    fast_polling(sandbox)
    http = sandbox.http()

    def approve_in_the_page(user_code: str) -> None:
        page = http.post(f"{sandbox.base_url}/devicelogin", data={"user_code": user_code.lower()})
        assert page.status_code == 200 and "Pick an account" in page.text, page.text
        assert re.search(r"<button[^>]*value='hana'>Hana Hill</button>", page.text)
        done = http.post(f"{sandbox.base_url}/devicelogin", data={"user_code": user_code, "user": "hana"})
        assert done.status_code == 200 and "You have signed in to the jit command application" in done.text

    app = public_app(sandbox)
    result = device_login(sandbox, app, approve_in_the_page)
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == demo.CLIENT_ID and claims["scp"] == "access_as_user"
    assert claims["azp"] == demo.CLI_CLIENT_ID and claims["roles"] == ["JIT.Approver"]
    assert claims["oid"] == demo.person("hana").object_id and claims["ver"] == "2.0"
    assert result["id_token_claims"]["aud"] == demo.CLI_CLIENT_ID
    account = app.get_accounts()[0]
    assert account["username"] == "hana@contoso.test"
    # The refresh token works without a secret, for the same client and resource.
    sandbox.advance("PT2H")
    again = app.acquire_token_silent(API_SCOPES, account=account, force_refresh=True)
    assert again and jwt.decode(again["access_token"], options={"verify_signature": False})["aud"] == demo.CLIENT_ID


def test_the_verification_page_asks_for_the_code_and_refuses_a_wrong_one(sandbox):
    http = sandbox.http()
    page = http.get(f"{sandbox.base_url}/devicelogin")
    assert page.status_code == 200 and "<label for='user_code'>Code</label>" in page.text
    wrong = http.post(f"{sandbox.base_url}/devicelogin", data={"user_code": "NOTACODE9"})
    assert wrong.status_code == 400 and "AADSTS70018" in wrong.text


def test_a_declined_device_code_ends_the_polling(sandbox):
    fast_polling(sandbox)

    def decline(user_code: str) -> None:
        sandbox.control("POST", f"device-codes/{user_code}", {"decline": True})

    result = device_login(sandbox, public_app(sandbox), decline)
    assert result["error"] == "authorization_declined", result


def test_the_control_call_approves_a_pending_code_as_a_person(sandbox):
    fast_polling(sandbox)

    def approve(user_code: str) -> None:
        assert [p["user_code"] for p in sandbox.control("GET", "device-codes")["pending"]] == [user_code]
        sandbox.control("POST", f"device-codes/{user_code}", {"user": "alice"})

    result = device_login(sandbox, public_app(sandbox), approve)
    assert result["id_token_claims"]["preferred_username"] == "alice@contoso.test"
    assert sandbox.control("GET", "device-codes")["pending"] == []


def test_a_device_code_expires_by_the_sandbox_clock(sandbox):
    fast_polling(sandbox)
    result = device_login(sandbox, public_app(sandbox), lambda user_code: sandbox.advance("PT16M"))
    assert result["error"] == "expired_token", result


def test_polling_faster_than_the_interval_is_told_to_slow_down(sandbox):
    http = sandbox.http()
    token_url = f"{sandbox.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token"
    flow = http.post(
        f"{sandbox.base_url}/{demo.TENANT_ID}/oauth2/v2.0/devicecode",
        data={"client_id": demo.CLI_CLIENT_ID, "scope": demo.CLI_SCOPE},
    ).json()
    poll = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "client_id": demo.CLI_CLIENT_ID,
        "device_code": flow["device_code"],
    }
    assert http.post(token_url, data=poll).json()["error"] == "authorization_pending"
    assert http.post(token_url, data=poll).json()["error"] == "slow_down"


def test_with_public_client_flows_off_the_device_code_is_refused_as_entra_does(sandbox):
    fast_polling(sandbox)
    sandbox.control("POST", f"public-clients/{demo.CLI_CLIENT_ID}", {"allow_public_client_flows": False})
    result = device_login(
        sandbox,
        public_app(sandbox),
        lambda user_code: sandbox.control("POST", f"device-codes/{user_code}", {"user": "alice"}),
    )
    assert result["error"] == "invalid_client" and "AADSTS7000218" in result["error_description"]
    assert sandbox.info()["public_clients"][0]["allow_public_client_flows"] is False


def test_the_code_flow_with_pkce_needs_no_secret_on_any_localhost_port(sandbox):
    sandbox.control("POST", f"public-clients/{demo.CLI_CLIENT_ID}", {"allow_public_client_flows": False})
    app = public_app(sandbox)
    flow = app.initiate_auth_code_flow(API_SCOPES, redirect_uri="http://localhost:53117")
    assert "code_challenge=" in flow["auth_uri"]
    redirect = sandbox.choose_account(flow["auth_uri"], "bob")
    assert redirect.startswith("http://localhost:53117?code=")
    result = app.acquire_token_by_auth_code_flow(flow, query_of(redirect))
    assert "access_token" in result, result
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["roles"] == ["JIT.Admin"]


def test_a_public_client_presenting_a_secret_is_refused(sandbox):
    app = msal.ConfidentialClientApplication(
        demo.CLI_CLIENT_ID,
        client_credential="a-secret",
        authority=f"{sandbox.base_url}/{demo.TENANT_ID}",
        http_client=sandbox.http(),
        instance_discovery=False,
    )
    flow = app.initiate_auth_code_flow(API_SCOPES, redirect_uri="http://localhost:53117")
    result = app.acquire_token_by_auth_code_flow(flow, query_of(sandbox.choose_account(flow["auth_uri"], "bob")))
    assert result["error"] == "invalid_client" and "AADSTS700025" in result["error_description"]


def test_a_code_issued_to_the_command_cannot_be_redeemed_by_the_portal(sandbox):
    from tests.azure_view import msal_app

    flow = public_app(sandbox).initiate_auth_code_flow(API_SCOPES, redirect_uri="http://localhost:53117")
    query = query_of(sandbox.choose_account(flow["auth_uri"], "bob"))
    result = msal_app(sandbox).acquire_token_by_auth_code_flow(flow, query)
    assert result["error"] == "invalid_grant", result


def test_the_command_is_refused_a_scope_it_was_not_granted(sandbox):
    flow = public_app(sandbox).initiate_device_flow(scopes=["https://management.azure.com/user_impersonation"])
    assert flow["error"] == "invalid_grant" and "AADSTS65001" in flow["error_description"]
