"""The sandbox's Entra ID through a real msal.ConfidentialClientApplication, and each refusal."""

from __future__ import annotations

import re

import jwt
import pytest

from sandbox import demo
from sandbox.identity import registered_redirect
from tests.azure_view import REDIRECT_URI, SCOPES, auth_code_result, msal_app
from tests.sandbox_client import query_of

pytestmark = pytest.mark.integration


def test_the_auth_code_flow_gives_entra_shaped_tokens(sandbox):
    result, flow, _ = auth_code_result(sandbox, "alice")
    claims = result["id_token_claims"]
    assert claims["tid"] == demo.TENANT_ID and claims["aud"] == demo.CLIENT_ID
    assert claims["preferred_username"] == "alice@contoso.test" and claims["name"] == "Alice Archer"
    assert claims["roles"] == ["JIT.Requester"] and claims["oid"] == demo.person("alice").object_id
    assert (
        claims["iss"]
        == sandbox.http()
        .get(f"{sandbox.base_url}/{demo.TENANT_ID}/v2.0/.well-known/openid-configuration")
        .json()["issuer"]
    )
    keys = sandbox.http().get(f"{sandbox.base_url}/{demo.TENANT_ID}/discovery/v2.0/keys").json()["keys"]
    key = jwt.PyJWK(keys[0]).key
    access = jwt.decode(
        result["access_token"],
        key,
        algorithms=["RS256"],
        audience="https://management.azure.com",
        options={"verify_exp": False},
    )
    assert access["scp"] == "user_impersonation" and access["oid"] == claims["oid"] and access["exp"] > access["iat"]
    jwt.decode(result["id_token"], key, algorithms=["RS256"], audience=demo.CLIENT_ID, options={"verify_exp": False})
    assert "refresh_token" in result


def test_the_chooser_names_each_person_on_a_button_with_their_roles(sandbox):
    flow = msal_app(sandbox).initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    page = sandbox.http().get(flow["auth_uri"]).text
    for person in demo.PEOPLE:
        assert re.search(rf"<button[^>]*value='{person.key}'>{person.display_name}</button>", page)
    assert "JIT.Admin" in page and "JIT.Auditor" in page


def test_it_refuses_a_wrong_client_secret(sandbox):
    result, _, _ = auth_code_result(sandbox, "alice", msal_app(sandbox, secret="wrong"))
    assert result["error"] == "invalid_client" and "AADSTS7000215" in result["error_description"]


def test_it_refuses_a_redirect_uri_that_is_not_registered(sandbox):
    flow = msal_app(sandbox).initiate_auth_code_flow(SCOPES, redirect_uri="https://evil.example/callback")
    page = sandbox.http().get(flow["auth_uri"])
    assert page.status_code == 400 and "AADSTS50011" in page.text


def test_it_refuses_a_code_used_twice(sandbox):
    app = msal_app(sandbox)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    query = query_of(sandbox.choose_account(flow["auth_uri"], "bob"))
    assert "access_token" in app.acquire_token_by_auth_code_flow(dict(flow), query, scopes=SCOPES)
    again = app.acquire_token_by_auth_code_flow(dict(flow), query, scopes=SCOPES)
    assert again["error"] == "invalid_grant" and "AADSTS54005" in again["error_description"]


def test_it_refuses_an_expired_code(sandbox):
    app = msal_app(sandbox)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    query = query_of(sandbox.choose_account(flow["auth_uri"], "bob"))
    sandbox.advance("PT11M")
    result = app.acquire_token_by_auth_code_flow(flow, query, scopes=SCOPES)
    assert result["error"] == "invalid_grant" and "AADSTS70008" in result["error_description"]


def test_it_refuses_a_wrong_pkce_verifier(sandbox):
    app = msal_app(sandbox)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    query = query_of(sandbox.choose_account(flow["auth_uri"], "bob"))
    flow["code_verifier"] = "x" * 64
    result = app.acquire_token_by_auth_code_flow(flow, query, scopes=SCOPES)
    assert result["error"] == "invalid_grant" and "AADSTS501481" in result["error_description"]


def test_refresh_tokens_work_until_they_expire_by_the_sandbox_clock(sandbox):
    app = msal_app(sandbox)
    result, _, _ = auth_code_result(sandbox, "carol", app)
    sandbox.advance("PT2H")
    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert "access_token" in refreshed and refreshed["id_token_claims"]["roles"] == ["JIT.Auditor"]
    sandbox.advance("P2D")
    expired = app.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert expired["error"] == "invalid_grant" and "AADSTS700082" in expired["error_description"]


def test_end_session_returns_to_a_loopback_address_only(sandbox):
    http = sandbox.http()
    logout = f"{sandbox.base_url}/{demo.TENANT_ID}/oauth2/v2.0/logout"
    back = http.get(logout, params={"post_logout_redirect_uri": "http://127.0.0.1:8000/bye"}, allow_redirects=False)
    assert back.status_code == 302 and back.headers["Location"] == "http://127.0.0.1:8000/bye"
    elsewhere = http.get(logout, params={"post_logout_redirect_uri": "https://evil.example/"}, allow_redirects=False)
    assert elsewhere.status_code == 200 and "signed out" in elsewhere.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://127.0.0.1:8443/accounts/callback",
        "https://localhost/accounts/callback",
        "http://[::1]:8080/accounts/callback",
    ],
)
def test_it_accepts_redirect_uris_on_this_machine_over_http_or_https(sandbox, redirect_uri):
    """A team rehearsal may end TLS at its load balancer: the callback is then https://127.0.0.1:<port>/..."""
    flow = msal_app(sandbox).initiate_auth_code_flow(SCOPES, redirect_uri=redirect_uri)
    page = sandbox.http().get(flow["auth_uri"])
    assert page.status_code == 200 and "Pick an account" in page.text
    assert sandbox.choose_account(flow["auth_uri"], "alice").startswith(redirect_uri + "?code=")


def test_the_chooser_fits_a_phone(sandbox):
    flow = msal_app(sandbox).initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    page = sandbox.http().get(flow["auth_uri"]).text
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in page and "<main>" in page


def test_a_redirect_uri_listed_in_sandbox_redirect_uris_is_registered(monkeypatch):
    monkeypatch.setenv("SANDBOX_REDIRECT_URIS", "https://jit.lab.test/accounts/callback, https://other.test/cb")
    assert registered_redirect("https://jit.lab.test/accounts/callback") and registered_redirect(
        "https://other.test/cb"
    )
    assert not registered_redirect("https://jit.lab.test/accounts/callback/x")
    assert not registered_redirect("https://evil.example/accounts/callback")
