"""Tokens for the portal's API as a client gets them (real MSAL against the sandbox), and tokens made wrong on
purpose (expired, another audience or tenant, no scope, forged, unsigned) signed as the tests need."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.test import Client

from sandbox import demo
from tests.azure_view import REDIRECT_URI, msal_app
from tests.conftest import PORTAL_HOST
from tests.sandbox_client import query_of

API_SCOPE = f"api://{demo.CLIENT_ID}/access_as_user"


def api_token(sandbox, user_key: str) -> str:
    """An access token for the portal's API, as a client signs a person in for it (authorization code + PKCE)."""
    app = msal_app(sandbox)
    flow = app.initiate_auth_code_flow([API_SCOPE], redirect_uri=REDIRECT_URI)
    result = app.acquire_token_by_auth_code_flow(
        flow, query_of(sandbox.choose_account(flow["auth_uri"], user_key)), scopes=[API_SCOPE]
    )
    assert "access_token" in result, result
    return result["access_token"]


class Api:
    """The portal's test client speaking to /api/v1 with one bearer token."""

    def __init__(self, token: str, **headers) -> None:
        self.client = Client(HTTP_HOST=PORTAL_HOST)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", **headers}

    def get(self, path: str, params: dict | None = None, **extra):
        return self.client.get(f"/api/v1{path}", params or {}, **self.headers, **extra)

    def post(self, path: str, body: dict | None = None, **extra):
        return self.client.post(f"/api/v1{path}", body or {}, content_type="application/json", **self.headers, **extra)


@pytest.fixture
def api_for(sandbox, db):
    tokens: dict[str, str] = {}

    def get(user_key: str, **headers) -> Api:
        if user_key not in tokens:
            tokens[user_key] = api_token(sandbox, user_key)
        return Api(tokens[user_key], **headers)

    return get


def signing_key():
    """The sandbox's own token-signing key: a token it signs is one the tenant issued."""
    return serialization.load_pem_private_key((settings.SANDBOX_DATA_DIR / "signing-key.pem").read_bytes(), None)


def made_token(sandbox, overrides: dict | None = None, drop: tuple[str, ...] = (), key=None, kid: str = "") -> str:
    """A token for the API signed as the tenant signs them, with `overrides` (None values dropped)."""
    real = api_token(sandbox, "alice")
    header = jwt.get_unverified_header(real)
    claims = {**jwt.decode(real, options={"verify_signature": False}), **(overrides or {})}
    for name in drop:
        claims.pop(name, None)
    return jwt.encode(claims, key or signing_key(), algorithm="RS256", headers={"kid": kid or header["kid"]})


def stranger_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def now() -> int:
    return int(time.time())
