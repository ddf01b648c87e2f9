"""Bearer tokens for the portal's own API: Entra v2 access tokens for `api://<client-id>/<API_SCOPE>`, checked
against the tenant's published keys (signature, issuer, audience, times, tenant, scope).

The keys are kept in memory; a token signed with a key id not kept makes one refetch (keys rotate), at most
once per REFETCH_SECONDS, so a stream of made-up key ids cannot turn into a stream of calls to the authority.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import jwt
import requests
from django.conf import settings

from .auth import _http_client
from .errors import Unavailable

REFETCH_SECONDS = 60  # the soonest an unknown key id may fetch the keys again
KEYS_TTL_SECONDS = 24 * 3600  # keys are read again daily even when every kid is known
LEEWAY_SECONDS = 120  # clock skew between the authority and the portal
ALGORITHMS = ["RS256"]  # Entra signs access tokens with RS256; `none` and HMAC are never accepted


class BearerRefused(Exception):
    """The token does not let its holder in: 401 (not a valid token for this API) or 403 (valid, but it
    does not act for a person with this API's scope)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass(frozen=True)
class ApiCaller:
    """Who a valid API token names, and the token itself (the on-behalf-of assertion; never logged)."""

    tenant_id: str
    object_id: str
    username: str
    display_name: str
    roles: tuple[str, ...]
    client_id: str  # the app that asked for the token (`azp`, or `appid` in a v1 token)
    token: str = field(repr=False)


class _Keys:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.source: tuple[str, str] = ("", "")  # (authority, tenant) the keys below are for
        self.issuer = ""
        self.keys: dict[str, object] = {}
        self.fetched_at = 0.0

    def _fetch(self) -> None:
        http = _http_client()
        timeout = settings.AZURE_TIMEOUT_SECONDS
        try:
            metadata = http.get(
                f"{settings.AZURE_AUTHORITY}/v2.0/.well-known/openid-configuration", timeout=timeout
            ).json()
            published = http.get(metadata["jwks_uri"], timeout=timeout).json()["keys"]
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise Unavailable(
                f"The sign-in service's keys at {settings.AZURE_AUTHORITY} could not be read ({type(exc).__name__})."
            ) from exc
        keys = {}
        for jwk in published if isinstance(published, list) else []:
            try:
                if jwk.get("kty") == "RSA" and jwk.get("kid"):
                    keys[jwk["kid"]] = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
            except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
                continue  # one unreadable key does not hide the others
        # A multi-tenant authority publishes an issuer template; this portal serves one tenant.
        self.issuer = str(metadata.get("issuer", "")).replace("{tenantid}", settings.AZURE_TENANT_ID)
        self.keys, self.fetched_at = keys, time.monotonic()

    def key(self, kid: str) -> tuple[object | None, str]:
        """The published key with this id (or None) and the issuer tokens must name."""
        with self.lock:
            source = (settings.AZURE_AUTHORITY, settings.AZURE_TENANT_ID)
            age = time.monotonic() - self.fetched_at
            stale = source != self.source or not self.fetched_at or age > KEYS_TTL_SECONDS
            if stale or (kid not in self.keys and age > REFETCH_SECONDS):
                self._fetch()
                self.source = source
            return self.keys.get(kid), self.issuer


_keys = _Keys()


def authenticate(token: str) -> ApiCaller:
    """The caller a bearer token names, or BearerRefused; Unavailable when the authority's keys cannot be read."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise BearerRefused(401, "invalid_token", "The token is not a JWT.") from None
    kid = header.get("kid")
    if header.get("alg") not in ALGORITHMS or not isinstance(kid, str):
        raise BearerRefused(
            401, "invalid_token", "The token is not signed as the tenant signs tokens (RS256 with a key id)."
        )
    key, issuer = _keys.key(kid)
    if key is None:
        raise BearerRefused(401, "invalid_token", "The token is signed with a key the tenant does not publish.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=settings.AZURE_CLIENT_ID,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "nbf", "iss", "aud", "tid", "oid"]},
        )
    except jwt.ExpiredSignatureError:
        raise BearerRefused(401, "invalid_token", "The token has expired.") from None
    except jwt.InvalidAudienceError:
        raise BearerRefused(
            401, "invalid_token", f"The token is not for this API (its audience must be {settings.AZURE_CLIENT_ID})."
        ) from None
    except jwt.InvalidIssuerError:
        raise BearerRefused(401, "invalid_token", "The token was not issued by this portal's tenant.") from None
    except jwt.PyJWTError as exc:
        raise BearerRefused(401, "invalid_token", f"The token is not valid ({type(exc).__name__}).") from None
    if claims["tid"] != settings.AZURE_TENANT_ID:
        raise BearerRefused(401, "invalid_token", "The token was not issued by this portal's tenant.")
    scopes = str(claims.get("scp", "")).split()
    if not scopes:
        raise BearerRefused(
            403,
            "insufficient_scope",
            "An application's own token (no delegated scope) cannot "
            "act here: the API acts only for a signed-in person.",
        )
    if settings.API_SCOPE not in scopes:
        raise BearerRefused(403, "insufficient_scope", f"The token lacks the scope {settings.API_SCOPE}.")
    roles = claims.get("roles")
    return ApiCaller(
        tenant_id=claims["tid"],
        object_id=str(claims["oid"]),
        username=str(claims.get("preferred_username") or claims.get("upn") or ""),
        display_name=str(claims.get("name", "")),
        roles=tuple(sorted(str(r) for r in roles)) if isinstance(roles, list) else (),
        client_id=str(claims.get("azp") or claims.get("appid") or ""),
        token=token,
    )
