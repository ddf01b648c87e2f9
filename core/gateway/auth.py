"""Sign-in with MSAL (authorization code + PKCE, confidential client) and the user's token cache.

The cache lives in the server-side session, under one key. A `UserCredential` is an azure-core
TokenCredential built from it: it refreshes silently and raises SignInRequired when it cannot.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

import msal
import requests
from azure.core.credentials import AccessToken
from django.conf import settings

from .errors import InteractionRequired, SignInFailed, SignInRequired, Unavailable
from .types import SignedIn

T = TypeVar("T")
CACHE_KEY = "gateway.msal_cache"
FLOW_KEY = "gateway.auth_flow"
# The app roles of the latest ID token (sign-in or refresh); accounts keeps the person's groups equal to them.
ROLES_KEY = "gateway.app_roles"
# An API call's stand-in for a session: the person's bearer token, traded on-behalf-of for ARM tokens.
API_ASSERTION_KEY = "gateway.api_assertion"
_http_cache: dict = {}  # MSAL keeps the authority's discovery document here between requests
OBO_KEPT = 10_000  # ARM tokens kept for API callers (by their token's digest), least recently used out first


def _http_client() -> requests.Session:
    session = requests.Session()
    # REQUESTS_CA_BUNDLE in the environment would override `verify`; the configured CA must win.
    session.trust_env = False
    session.verify = settings.AZURE_CA_BUNDLE or True
    return session


def client_credential() -> str | dict:
    """The client secret, or MSAL's certificate credential when a certificate file is configured."""
    if not settings.AZURE_CLIENT_CERTIFICATE_PATH:
        return settings.AZURE_CLIENT_SECRET
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    pem = Path(settings.AZURE_CLIENT_CERTIFICATE_PATH).read_bytes()
    certificate = x509.load_pem_x509_certificate(pem)
    key = serialization.load_pem_private_key(pem, password=None)
    return {
        "private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "thumbprint": certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - Entra's x5t is SHA-1
        "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
    }


_PERSON_CACHE: contextvars.ContextVar[msal.SerializableTokenCache | None] = contextvars.ContextVar(
    "msal_person_cache", default=None
)


class _PersonsCache:
    """What MSAL's one application per process sees as its token cache: the cache of the person whose call is in
    progress. MSAL binds a cache to an application and reads it through `app.token_cache` at each call; the portal
    keeps each person's cache in their session, so a context variable names it for the call (threads and the
    parallel Azure calls each carry their own context)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)

    # MSAL takes these two as callbacks when the application is built, before any person's call.
    def remove_rt(self, *args: Any, **kwargs: Any) -> Any:
        return self._current().remove_rt(*args, **kwargs)

    def update_rt(self, *args: Any, **kwargs: Any) -> Any:
        return self._current().update_rt(*args, **kwargs)

    @staticmethod
    def _current() -> msal.SerializableTokenCache:
        cache = _PERSON_CACHE.get()
        if cache is None:
            raise RuntimeError("MSAL asked for a token cache outside a person's call")
        return cache


_apps: dict[tuple, msal.ConfidentialClientApplication] = {}
_apps_lock = threading.Lock()


def _app_key() -> tuple:
    """What the application is made of: a change of settings (tests, a rotated certificate file) makes a new one."""
    path = settings.AZURE_CLIENT_CERTIFICATE_PATH
    certificate = (path, Path(path).stat().st_mtime_ns) if path else None
    return (
        settings.AZURE_CLIENT_ID,
        settings.AZURE_AUTHORITY,
        settings.AZURE_CLIENT_SECRET,
        certificate,
        settings.AZURE_CA_BUNDLE,
        settings.AZURE_INSTANCE_DISCOVERY,
        settings.AZURE_TIMEOUT_SECONDS,
    )


def _app() -> msal.ConfidentialClientApplication:
    """The process's one MSAL application (Microsoft: build it once and reuse it); the certificate is read once."""
    try:
        key = _app_key()
        with _apps_lock:
            if key not in _apps:
                _apps.clear()
                _apps[key] = msal.ConfidentialClientApplication(
                    settings.AZURE_CLIENT_ID,
                    client_credential=client_credential(),
                    authority=settings.AZURE_AUTHORITY,
                    token_cache=_PersonsCache(),
                    http_client=_http_client(),
                    http_cache=_http_cache,
                    instance_discovery=settings.AZURE_INSTANCE_DISCOVERY,
                    timeout=settings.AZURE_TIMEOUT_SECONDS,
                )
            return _apps[key]
    except (requests.RequestException, ValueError, OSError) as exc:
        raise SignInFailed(
            f"The sign-in service at {settings.AZURE_AUTHORITY} could not be reached ({type(exc).__name__})."
        ) from exc


@contextlib.contextmanager
def _as_person(cache: msal.SerializableTokenCache) -> Iterator[msal.ConfidentialClientApplication]:
    """The application, seeing `cache` as its token cache for the calls made inside the block."""
    app = _app()
    token = _PERSON_CACHE.set(cache)
    try:
        yield app
    finally:
        _PERSON_CACHE.reset(token)


def _scopes() -> list[str]:
    return [settings.AZURE_ARM_SCOPE]


def begin_sign_in(session: MutableMapping[str, Any], redirect_uri: str) -> str:
    """Start the auth-code flow; return the authority URL to send the browser to."""
    try:
        flow = _app().initiate_auth_code_flow(_scopes(), redirect_uri=redirect_uri)
    except (requests.RequestException, ValueError, OSError) as exc:
        raise SignInFailed(
            f"The sign-in service at {settings.AZURE_AUTHORITY} could not be reached ({type(exc).__name__})."
        ) from exc
    session[FLOW_KEY] = flow
    return flow["auth_uri"]


def complete_sign_in(session: MutableMapping[str, Any], query: dict[str, str]) -> SignedIn:
    """Redeem the code the authority sent back; keep the tokens in the session's cache."""
    flow = session.pop(FLOW_KEY, None)
    if not flow:
        raise SignInFailed("This sign-in link was already used or has expired.")
    if query.get("error"):
        description = query.get("error_description") or query["error"]
        raise SignInFailed(f"The sign-in service said: {description}")
    cache = msal.SerializableTokenCache()
    try:
        with _as_person(cache) as app:
            result = app.acquire_token_by_auth_code_flow(flow, query, scopes=_scopes())
    except ValueError:
        raise SignInFailed(
            "The sign-in response did not match the request (state mismatch). Please try again."
        ) from None
    except requests.RequestException as exc:
        raise SignInFailed(f"The sign-in service could not be reached ({type(exc).__name__}).") from exc
    if "error" in result:
        raise SignInFailed(f"The sign-in service said: {result.get('error_description') or result['error']}")
    claims = result.get("id_token_claims") or {}
    if not claims.get("oid") or not claims.get("tid"):
        raise SignInFailed("The sign-in service returned no user identity.")
    session[CACHE_KEY] = cache.serialize()
    session[ROLES_KEY] = _roles(claims)
    return SignedIn(
        tenant_id=claims["tid"],
        object_id=claims["oid"],
        username=claims.get("preferred_username", ""),
        display_name=claims.get("name", ""),
        app_roles=tuple(_roles(claims)),
    )


def latest_app_roles(session: MutableMapping[str, Any]) -> set[str] | None:
    """The app roles of the person's latest ID token, or None before any was read."""
    roles = session.get(ROLES_KEY)
    return set(roles) if roles is not None else None


def _roles(claims: dict[str, Any]) -> list[str]:
    roles = claims.get("roles")
    return sorted(str(r) for r in roles) if isinstance(roles, list) else []


def sign_out_url(post_logout_redirect_uri: str) -> str:
    """The authority's end-session URL, without a network call (same path as Entra ID)."""
    from urllib.parse import urlencode

    return f"{settings.AZURE_AUTHORITY}/oauth2/v2.0/logout?" + urlencode(
        {"post_logout_redirect_uri": post_logout_redirect_uri}
    )


class _ApiSession(dict):
    """A dict that never shows its content: it holds a bearer token, and reprs reach logs and error reports."""

    def __repr__(self) -> str:
        return "<API session>"


def api_session(token: str, roles: tuple[str, ...]) -> dict[str, Any]:
    """What an API call acts with where a page acts with its session: the person's own token for the portal's
    API, which the gateway trades for ARM tokens (on-behalf-of), and the app roles it carries."""
    return _ApiSession({API_ASSERTION_KEY: token, ROLES_KEY: list(roles)})


class _NoTokenCache(msal.TokenCache):
    """What the process's MSAL application sees as its cache during an on-behalf-of call: MSAL (1.39) writes every
    OBO answer to the cache and never reads one back for that grant, so nothing is kept there; `_OnBehalfOf`
    keeps what it needs, bounded."""

    def add(self, event, now=None) -> None:
        return None


class _OnBehalfOf:
    """ARM tokens traded on-behalf-of (through the process's one MSAL application) for the tokens API callers
    sent, by the digest of those tokens (never the tokens themselves), until shortly before they expire."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: OrderedDict[str, AccessToken] = OrderedDict()

    def token(self, assertion: str, force_refresh: bool) -> AccessToken:
        digest = hashlib.sha256(f"{_app_key()}:{assertion}".encode()).hexdigest()
        with self.lock:
            kept = self.tokens.get(digest)
            if kept is not None and not force_refresh and kept.expires_on - 60 > time.time():
                self.tokens.move_to_end(digest)
                return kept
        try:
            with _as_person(_NoTokenCache()) as app:
                result = app.acquire_token_on_behalf_of(assertion, _scopes())
        except requests.RequestException as exc:
            raise Unavailable(f"The sign-in service could not be reached ({type(exc).__name__}).") from exc
        if "access_token" not in result:
            error = result.get("error", "")
            description = result.get("error_description") or error
            if error in ("interaction_required", "invalid_grant", "consent_required"):
                # The person must sign in again (expired, no consent, Conditional Access): their client's job.
                raise InteractionRequired(f"Sign in again: {description}", claims=result.get("claims", ""))
            raise Unavailable(f"The sign-in service refused the portal an Azure token for you: {description}")
        token = AccessToken(result["access_token"], int(time.time()) + int(result.get("expires_in", 300)))
        with self.lock:
            self.tokens[digest] = token
            while len(self.tokens) > OBO_KEPT:
                self.tokens.popitem(last=False)
        return token


_obo = _OnBehalfOf()


class KeepsClients:
    """A credential that keeps what is made for it once (an SDK client and its connections) for its life."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[Hashable, Any] = {}

    def keep(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._kept:
                self._kept[key] = make()
            return self._kept[key]


class UserCredential(KeepsClients):
    """An azure-core TokenCredential acting as the signed-in person, from their session's cache."""

    def __init__(self, session: MutableMapping[str, Any]) -> None:
        super().__init__()
        self._session = session
        self._token: AccessToken | None = None
        self._refreshed_at = 0.0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        with self._lock:
            if self._token is None or self._token.expires_on - 60 < time.time():
                self._token = self._acquire(force_refresh=False)
            return self._token

    def force_refresh(self) -> None:
        """Azure said the token is no longer good (expired, revoked): get a new one or ask to sign in.

        Parallel calls that failed together refresh once: a token refreshed moments ago is kept."""
        with self._lock:
            if self._token is not None and time.monotonic() - self._refreshed_at < 30:
                return
            self._token = self._acquire(force_refresh=True)
            self._refreshed_at = time.monotonic()

    def _acquire(self, force_refresh: bool) -> AccessToken:
        if API_ASSERTION_KEY in self._session:
            return _obo.token(self._session[API_ASSERTION_KEY], force_refresh)
        serialized = self._session.get(CACHE_KEY)
        if not serialized:
            raise SignInRequired("Please sign in.")
        cache = msal.SerializableTokenCache()
        cache.deserialize(serialized)
        result = None
        with _as_person(cache) as app:
            accounts = app.get_accounts()
            if accounts:
                try:
                    result = app.acquire_token_silent(_scopes(), account=accounts[0], force_refresh=force_refresh)
                except requests.RequestException as exc:
                    raise SignInRequired(f"The sign-in service could not be reached ({type(exc).__name__}).") from exc
        if not result or "access_token" not in result:
            raise SignInRequired("Your sign-in has expired. Please sign in again.")
        if cache.has_state_changed:
            self._session[CACHE_KEY] = cache.serialize()
        if result.get("id_token_claims"):  # only when the authority answered (a refresh), not from the cache
            self._session[ROLES_KEY] = _roles(result["id_token_claims"])
        return AccessToken(result["access_token"], int(time.time()) + int(result.get("expires_in", 300)))
