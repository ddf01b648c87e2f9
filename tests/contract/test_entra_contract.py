"""Entra ID's token endpoint as the identity platform documents it: the client authentication methods
discovery advertises (client_secret_post, client_secret_basic, private_key_jwt), app-only tokens by client
credentials (`/.default` only), the `common` and `organizations` authorities, `uti` in tokens, and the
trace/correlation suffix of every error description."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import jwt
import msal
import pytest
from azure.core.exceptions import HttpResponseError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from sandbox import demo
from tests.azure_view import Clients, auth_code_result
from tests.certificates import self_signed_pem

pytestmark = pytest.mark.integration

ARM_DEFAULT = ["https://management.azure.com/.default"]
SUFFIX = re.compile(
    r" Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
)


def _app(sandbox, client_id: str, credential, tenant: str = demo.TENANT_ID) -> msal.ConfidentialClientApplication:
    http = sandbox.http()
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"{sandbox.base_url}/{tenant}",
        http_client=http,
        instance_discovery=False,
    )


def _certificate_credential(path: str) -> dict:
    pem = Path(path).read_bytes()
    certificate = x509.load_pem_x509_certificate(pem)
    key = serialization.load_pem_private_key(pem, password=None)
    return {
        "private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "thumbprint": certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - Entra's x5t
        "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
    }


def _reader(sandbox) -> dict:
    return next(a for a in sandbox.info()["apps"] if a["summary"].startswith("Read-only"))


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_discovery_advertises_what_the_token_endpoint_accepts(sandbox):
    config = sandbox.http().get(f"{sandbox.base_url}/{demo.TENANT_ID}/v2.0/.well-known/openid-configuration").json()
    assert set(config["token_endpoint_auth_methods_supported"]) == {
        "client_secret_post",
        "client_secret_basic",
        "private_key_jwt",
    }


def test_client_secret_basic_is_accepted(sandbox):
    reader = _reader(sandbox)
    basic = base64.b64encode(f"{reader['client_id']}:{reader['client_secret']}".encode()).decode()
    answer = sandbox.http().post(
        f"{sandbox.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": ARM_DEFAULT[0]},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert answer.status_code == 200, answer.text
    assert _claims(answer.json()["access_token"])["oid"] == reader["object_id"]


def test_a_certificate_signs_the_portal_in_as_msal_sends_it(sandbox):
    credential = _certificate_credential(sandbox.info()["client_certificate_path"])
    result, _, _ = auth_code_result(sandbox, "carol", _app(sandbox, demo.CLIENT_ID, credential))
    assert "access_token" in result, result
    assert _claims(result["access_token"])["upn"] == "carol@contoso.test"


def test_a_certificate_that_is_not_registered_is_refused(sandbox, tmp_path):
    path = tmp_path / "stranger.pem"
    self_signed_pem(path, "stranger")
    result = _app(sandbox, demo.CLIENT_ID, _certificate_credential(str(path))).acquire_token_for_client(ARM_DEFAULT)
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]
    assert SUFFIX.search(result["error_description"])


def test_an_app_only_token_reads_with_the_apps_own_roles(sandbox, subs):
    reader = _reader(sandbox)
    result = _app(sandbox, reader["client_id"], reader["client_secret"]).acquire_token_for_client(ARM_DEFAULT)
    claims = _claims(result["access_token"])
    assert (claims["oid"], claims["appid"], claims["idtyp"]) == (reader["object_id"], reader["client_id"], "app")
    assert "upn" not in claims and "scp" not in claims and claims["uti"]
    clients = Clients(sandbox, result["access_token"])
    assert len(list(clients.subscriptions.subscriptions.list())) == 4
    assert list(clients.compute(subs["prod"]).virtual_machines.list_all())
    with pytest.raises(HttpResponseError) as caught:
        clients.security(subs["dev"]).jit_network_access_policies.delete("rg-build", "westus2", "default")
    assert caught.value.status_code == 403 and f"The client '{reader['client_id']}'" in caught.value.message


def test_client_credentials_refuse_a_delegated_scope(sandbox):
    reader = _reader(sandbox)
    result = _app(sandbox, reader["client_id"], reader["client_secret"]).acquire_token_for_client(
        ["https://management.azure.com/user_impersonation"]
    )
    assert result["error"] == "invalid_scope" and result["error_codes"] == [1002012]
    assert "/.default" in result["error_description"] and SUFFIX.search(result["error_description"])


def test_a_wrong_secret_is_refused_with_entras_trace_suffix(sandbox):
    result = _app(sandbox, demo.CLIENT_ID, "not-the-secret").acquire_token_for_client(ARM_DEFAULT)
    assert result["error_codes"] == [7000215] and SUFFIX.search(result["error_description"])


@pytest.mark.parametrize("tenant", ["common", "organizations"])
def test_multi_tenant_authorities_sign_in_to_the_demo_tenant(sandbox, tenant):
    config = sandbox.http().get(f"{sandbox.base_url}/{tenant}/v2.0/.well-known/openid-configuration").json()
    assert config["issuer"] == f"{sandbox.base_url}/{{tenantid}}/v2.0"
    assert config["token_endpoint"] == f"{sandbox.base_url}/{tenant}/oauth2/v2.0/token"
    result, _, _ = auth_code_result(sandbox, "alice", _app(sandbox, demo.CLIENT_ID, demo.CLIENT_SECRET, tenant))
    assert "access_token" in result, result
    assert result["id_token_claims"]["tid"] == demo.TENANT_ID and result["id_token_claims"]["uti"]
    assert _claims(result["access_token"])["uti"]
