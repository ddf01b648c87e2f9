"""The portal's exposed API and the on-behalf-of grant, as the identity platform documents them
(/work/shared/azure-spec-examples/entra/FLOWS.md, §2; MicrosoftDocs/entra-docs v2-oauth2-on-behalf-of-flow.md,
reference-error-codes.md): tokens for `api://<client-id>/access_as_user` are Entra v2 access tokens whose `aud`
is the API's client id, and the portal trades them for an ARM token for the same person, or meets Entra's
errors (wrong audience, expired assertion, app-only token, ID token, consent, Conditional Access)."""

from __future__ import annotations

import json
import re

import jwt
import msal
import pytest

from sandbox import demo
from tests.azure_view import REDIRECT_URI, Clients

pytestmark = pytest.mark.integration

API_SCOPE = f"api://{demo.CLIENT_ID}/access_as_user"
ARM_SCOPE = "https://management.azure.com/user_impersonation"
SUFFIX = re.compile(
    r" Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
)


def _app(
    sandbox, client_id: str = demo.CLIENT_ID, secret: str = demo.CLIENT_SECRET
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=f"{sandbox.base_url}/{demo.TENANT_ID}",
        http_client=sandbox.http(),
        instance_discovery=False,
    )


def _signed_in(sandbox, user_key: str, scopes: list[str], app=None) -> tuple[dict, msal.ClientApplication]:
    app = app or _app(sandbox)
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT_URI)
    redirect = sandbox.choose_account(flow["auth_uri"], user_key)
    from tests.sandbox_client import query_of

    return app.acquire_token_by_auth_code_flow(flow, query_of(redirect), scopes=scopes), app


def _api_token(sandbox, user_key: str = "alice") -> str:
    result, _ = _signed_in(sandbox, user_key, [API_SCOPE])
    assert "access_token" in result, result
    return result["access_token"]


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_token_for_the_api_is_written_as_entra_v2_writes_one(sandbox):
    result, _ = _signed_in(sandbox, "alice", [API_SCOPE])
    claims = _claims(result["access_token"])
    assert result["scope"] == API_SCOPE
    assert claims["aud"] == demo.CLIENT_ID and claims["ver"] == "2.0"
    assert claims["iss"] == f"{sandbox.base_url}/{demo.TENANT_ID}/v2.0" and claims["tid"] == demo.TENANT_ID
    assert claims["scp"] == "access_as_user" and claims["roles"] == ["JIT.Requester"]
    assert claims["oid"] == demo.person("alice").object_id and claims["azp"] == demo.CLIENT_ID
    assert claims["nbf"] <= claims["iat"] < claims["exp"] and "upn" not in claims
    assert jwt.get_unverified_header(result["access_token"])["alg"] == "RS256"


def test_a_refresh_token_serves_the_api_and_arm_alike(sandbox):
    result, app = _signed_in(sandbox, "bob", [ARM_SCOPE])
    account = app.get_accounts()[0]
    for_api = app.acquire_token_silent([API_SCOPE], account=account)
    assert _claims(for_api["access_token"])["aud"] == demo.CLIENT_ID
    assert _claims(for_api["access_token"])["roles"] == ["JIT.Admin"]
    assert _claims(result["access_token"])["aud"] == "https://management.azure.com"


def test_an_api_nobody_exposes_and_two_resources_at_once_are_refused(sandbox):
    token_url = f"{sandbox.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token"
    asked = {"grant_type": "client_credentials", "client_id": demo.CLIENT_ID, "client_secret": demo.CLIENT_SECRET}
    unknown = sandbox.http().post(token_url, data={**asked, "scope": "api://someone-else/.default"}).json()
    assert unknown["error"] == "invalid_resource" and unknown["error_codes"] == [500011]
    both, _ = _signed_in(sandbox, "alice", [API_SCOPE, ARM_SCOPE])
    assert both["error"] == "invalid_scope" and both["error_codes"] == [28000]
    assert SUFFIX.search(both["error_description"])


def test_client_credentials_for_the_api_give_an_app_only_token_without_scp(sandbox):
    result = _app(sandbox).acquire_token_for_client([f"api://{demo.CLIENT_ID}/.default"])
    claims = _claims(result["access_token"])
    assert claims["aud"] == demo.CLIENT_ID and claims["idtyp"] == "app" and "scp" not in claims


def test_on_behalf_of_gives_an_arm_token_for_the_same_person(sandbox, subs):
    result = _app(sandbox).acquire_token_on_behalf_of(_api_token(sandbox, "alice"), [ARM_SCOPE])
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["aud"] == "https://management.azure.com" and claims["scp"] == "user_impersonation"
    assert claims["upn"] == "alice@contoso.test" and claims["appid"] == demo.CLIENT_ID
    assert result["refresh_token"] and result["scope"] == ARM_SCOPE
    # Azure judges it as Alice: she reads Production, and not Shared services.
    names = {s.display_name for s in Clients(sandbox, result["access_token"]).subscriptions.subscriptions.list()}
    assert names == {"Contoso Production", "Contoso Development"}


def test_on_behalf_of_refuses_a_token_meant_for_another_audience(sandbox):
    arm, _ = _signed_in(sandbox, "alice", [ARM_SCOPE])
    result = _app(sandbox).acquire_token_on_behalf_of(arm["access_token"], [ARM_SCOPE])
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50013]
    assert "Assertion audience does not match" in result["error_description"]
    reader = next(a for a in sandbox.info()["apps"] if a["summary"].startswith("Read-only"))
    other = _app(sandbox, reader["client_id"], reader["client_secret"]).acquire_token_on_behalf_of(
        _api_token(sandbox), [ARM_SCOPE]
    )
    assert (
        other["error_codes"] == [50013]
        and f"expected audience is '{reader['client_id']}'" in other["error_description"]
    )


def test_on_behalf_of_refuses_an_expired_assertion(sandbox):
    token = _api_token(sandbox)
    sandbox.advance("PT2H")
    result = _app(sandbox).acquire_token_on_behalf_of(token, [ARM_SCOPE])
    assert result["error"] == "invalid_grant" and result["error_codes"] == [500133]
    assert "not within its valid time range" in result["error_description"]


def test_on_behalf_of_refuses_app_only_tokens_id_tokens_and_forged_signatures(sandbox):
    app = _app(sandbox)
    app_only = app.acquire_token_for_client([f"api://{demo.CLIENT_ID}/.default"])["access_token"]
    assert app.acquire_token_on_behalf_of(app_only, [ARM_SCOPE])["error_codes"] == [50013]
    signed_in, _ = _signed_in(sandbox, "alice", [API_SCOPE])
    assert app.acquire_token_on_behalf_of(signed_in["id_token"], [ARM_SCOPE])["error_codes"] == [240002]
    claims = _claims(_api_token(sandbox))
    forged = jwt.encode(claims, "a" * 32, algorithm="HS256")
    assert app.acquire_token_on_behalf_of(forged, [ARM_SCOPE])["error_codes"] == [50013]
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert app.acquire_token_on_behalf_of(unsigned, [ARM_SCOPE])["error_codes"] == [50013]


def test_on_behalf_of_without_consent_asks_for_it(sandbox):
    sandbox.control("POST", "people/alice/obo", {"consent": False})
    result = _app(sandbox).acquire_token_on_behalf_of(_api_token(sandbox), [ARM_SCOPE])
    assert result["error"] == "invalid_grant" and result["error_codes"] == [65001]
    assert result["suberror"] == "consent_required" and SUFFIX.search(result["error_description"])


def test_on_behalf_of_under_conditional_access_needs_interaction_and_says_which_claims(sandbox):
    sandbox.control("POST", "people/alice/obo", {"mfa": True})
    result = _app(sandbox).acquire_token_on_behalf_of(_api_token(sandbox), [ARM_SCOPE])
    assert result["error"] == "interaction_required" and result["error_codes"] == [50079]
    assert json.loads(result["claims"])["access_token"]["capolids"]["essential"] is True


def test_on_behalf_of_needs_requested_token_use_and_an_arm_scope(sandbox):
    token_url = f"{sandbox.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token"
    asked = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "client_id": demo.CLIENT_ID,
        "client_secret": demo.CLIENT_SECRET,
        "assertion": _api_token(sandbox),
        "scope": ARM_SCOPE,
    }
    missing = sandbox.http().post(token_url, data=asked).json()
    assert missing["error"] == "invalid_request" and "requested_token_use" in missing["error_description"]
    other = (
        sandbox.http()
        .post(
            token_url,
            data={**asked, "requested_token_use": "on_behalf_of", "scope": "https://graph.microsoft.com/User.Read"},
        )
        .json()
    )
    assert other["error"] == "invalid_scope"
