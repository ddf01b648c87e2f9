"""Entra ID as the sandbox plays it: OIDC v2 discovery, an account chooser, tokens, JWKS, sign-out."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import os
import re
import secrets
import uuid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from . import demo
from .http import Request, Response, html_response, json_response, redirect, route
from .state import Sandbox
from .timeutil import format_time, parse_time

# The demo client's redirect URIs, as an app registration lists them: any on this machine, over HTTP or HTTPS
# (`make serve` is plain HTTP; a team rehearsal may end TLS at its load balancer), and the exact URIs in
# SANDBOX_REDIRECT_URIS (comma-separated), for a rehearsal reached by another name.
_LOOPBACK_REDIRECT = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?(/[^#]*)?$")


def registered_redirect(uri: str) -> bool:
    listed = {u.strip() for u in os.environ.get("SANDBOX_REDIRECT_URIS", "").split(",") if u.strip()}
    return bool(_LOOPBACK_REDIRECT.match(uri)) or uri in listed


CODE_LIFETIME = dt.timedelta(minutes=10)
# Tenant segments Entra takes besides a tenant id: any work account ("organizations"), any account ("common").
MULTI_TENANT = ("common", "organizations")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"  # on-behalf-of: a middle tier trades a user's token
API_SCOPES = (f"{demo.API_ID_URI}/{demo.API_SCOPE}", f"{demo.API_ID_URI}/.default")
ARM_SCOPES = (f"{demo.ARM_AUDIENCE}/user_impersonation", f"{demo.ARM_AUDIENCE}/.default")


class Identity:
    def __init__(self, sandbox: Sandbox, signing_key_path: Path, client_certificate_path: Path) -> None:
        self.sandbox = sandbox
        self.public_clients = None  # sandbox.device.PublicClients sets itself here: the token endpoint is one
        self.key = serialization.load_pem_private_key(signing_key_path.read_bytes(), password=None)
        # The certificate registered for the demo client; a client assertion must be signed with its key.
        self.client_certificate = x509.load_pem_x509_certificate(client_certificate_path.read_bytes())
        public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(public_pem).digest()[:15]).decode()
        self._checked: dict[tuple[str, str], dict] = {}  # (token, audience) → claims: a signature checks once

    # --- helpers -------------------------------------------------------------------------------
    def issuer(self, base_url: str) -> str:
        return f"{base_url}/{demo.TENANT_ID}/v2.0"

    def arm_issuer(self, base_url: str) -> str:
        return f"{base_url}/{demo.TENANT_ID}/"

    def public_jwk(self) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "kty": "RSA", "alg": "RS256"}

    def app_roles(self, person: demo.Person) -> list[str]:
        overrides = self.sandbox.world.setdefault("app_roles", {})
        return list(overrides.get(person.key, person.app_roles))

    def _sign(self, claims: dict) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def decode_arm_token(self, token: str, audience: str = demo.ARM_AUDIENCE) -> dict:
        """Check signature and audience; the caller checks expiry against the sandbox clock. A token's checked claims
        are kept (an RS256 check costs ~1 ms under the ARM lock, and a 1,000-subscription page sends one token
        ~12,000 times); the key never changes while the sandbox runs."""
        claims = self._checked.get((token, audience))
        if claims is None:
            claims = jwt.decode(
                token,
                self.key.public_key(),
                algorithms=["RS256"],
                audience=audience,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
            if len(self._checked) >= 10_000:
                self._checked.clear()
            self._checked[(token, audience)] = claims
        return dict(claims)

    # --- endpoints -----------------------------------------------------------------------------
    def routes(self) -> list:
        t = "/{tenant}"
        return [
            route("GET", f"{t}/v2.0/.well-known/openid-configuration", self.discovery, "entra.discovery"),
            route("GET", f"{t}/discovery/v2.0/keys", self.keys, "entra.keys"),
            route("GET", f"{t}/oauth2/v2.0/authorize", self.chooser, "entra.authorize"),
            route("POST", f"{t}/oauth2/v2.0/authorize", self.choose, "entra.authorize"),
            route("POST", f"{t}/oauth2/v2.0/token", self.token, "entra.token"),
            route("GET", f"{t}/oauth2/v2.0/logout", self.logout, "entra.logout"),
        ]

    def _tenant_error(self, request: Request) -> Response | None:
        if request.params["tenant"].lower() not in (demo.TENANT_ID, *MULTI_TENANT):
            return json_response(
                400, _oauth_error("invalid_tenant", 90002, f"Tenant '{request.params['tenant']}' not found.")
            )
        return None

    def discovery(self, request: Request) -> Response:
        if (error := self._tenant_error(request)) is not None:
            return error
        segment = request.params["tenant"].lower()
        base = f"{request.base_url}/{segment}"
        # A multi-tenant authority names no issuer: Entra publishes a template, the tokens name the real tenant.
        issuer = self.issuer(request.base_url) if segment == demo.TENANT_ID else f"{request.base_url}/{{tenantid}}/v2.0"
        return json_response(
            200,
            {
                "issuer": issuer,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "response_types_supported": ["code"],
                "response_modes_supported": ["query", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "nbf",
                    "name",
                    "preferred_username",
                    "oid",
                    "tid",
                    "roles",
                    "nonce",
                ],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "sandbox.local",
            },
        )

    def keys(self, request: Request) -> Response:
        return self._tenant_error(request) or json_response(200, {"keys": [self.public_jwk()]})

    def _authorize_problem(self, query: dict[str, str]) -> str | None:
        if query.get("client_id") != demo.CLIENT_ID and demo.public_client(query.get("client_id", "")) is None:
            return f"AADSTS700016: Application with identifier '{query.get('client_id')}' was not found."
        if not registered_redirect(query.get("redirect_uri", "")):
            return (
                "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs "
                "configured for the application."
            )
        if query.get("response_type") != "code":
            return "AADSTS700054: response_type must be 'code'."
        if query.get("code_challenge_method", "S256") != "S256" or not query.get("code_challenge"):
            return "AADSTS9002325: Proof Key for Code Exchange (S256) is required."
        return None

    def chooser(self, request: Request) -> Response:
        if (error := self._tenant_error(request)) is not None:
            return error
        problem = self._authorize_problem(request.query)
        if problem:
            return html_response(400, _page("Sign-in failed", f"<p role='alert'>{html.escape(problem)}</p>"))
        carried = html.escape(urlencode(request.query))
        rows = "".join(
            f"<li><button type='submit' name='user' value='{p.key}'>{html.escape(p.display_name)}</button>"
            f" <span class='who'>{html.escape(p.username)} · roles: "
            f"{html.escape(', '.join(self.app_roles(p)) or 'none')} · {html.escape(p.summary)}</span></li>"
            for p in demo.PEOPLE
        )
        body = (
            f"<h1>Pick an account</h1><p>jitportal sandbox — demo tenant {demo.TENANT_ID}</p>"
            f"<form method='post'><input type='hidden' name='request' value='{carried}'>"
            f"<ul>{rows}</ul><button type='submit' name='cancel' value='1'>Cancel</button></form>"
        )
        return html_response(200, _page("Sign in", body))

    def choose(self, request: Request) -> Response:
        if (error := self._tenant_error(request)) is not None:
            return error
        form = request.form()
        query = {k: v[-1] for k, v in parse_qs(form.get("request", "")).items()}
        problem = self._authorize_problem(query)
        if problem:
            return html_response(400, _page("Sign-in failed", f"<p role='alert'>{html.escape(problem)}</p>"))
        target = query["redirect_uri"]
        if form.get("cancel") or form.get("user") not in {p.key for p in demo.PEOPLE}:
            return _answer(
                target,
                query,
                {
                    "error": "access_denied",
                    "state": query.get("state", ""),
                    "error_description": "AADSTS65004: User declined to consent to access the app.",
                },
            )
        code = secrets.token_urlsafe(32)
        with self.sandbox.lock:
            self.sandbox.codes[code] = {
                "user": form["user"],
                "client_id": query["client_id"],
                "redirect_uri": target,
                "challenge": query["code_challenge"],
                "nonce": query.get("nonce"),
                "scope": query.get("scope", ""),
                "expires": format_time(self.sandbox.clock.now() + CODE_LIFETIME),
                "used": False,
            }
        return _answer(
            target, query, {"code": code, "state": query.get("state", ""), "session_state": str(uuid.uuid4())}
        )

    def token(self, request: Request) -> Response:
        if (error := self._tenant_error(request)) is not None:
            return error
        form = request.form()
        if (public := demo.public_client(form.get("client_id", ""))) is not None:
            return self.public_clients.token(request, form, public)
        client = self._authenticate_client(request, form)
        if isinstance(client, Response):
            return client
        scope = form.get("scope", "")
        grant = form.get("grant_type")
        other = [
            s
            for s in scope.split()
            if s.startswith("http")
            and not s.startswith(demo.ARM_AUDIENCE)
            and not (grant == "client_credentials" and s.startswith(demo.MONITOR_AUDIENCE))
        ]
        if other:
            return json_response(
                400, _oauth_error("invalid_scope", 70011, f"The provided value for scope {other[0]} is not valid.")
            )
        if (problem := _resource_problem(scope)) is not None:
            return problem
        if grant == "client_credentials":
            return self._app_token(request, client, scope)
        if grant == OBO_GRANT:
            with self.sandbox.lock:
                return self._on_behalf_of(request, client, form)
        if client.client_id != demo.CLIENT_ID:  # only the portal's registration has a redirect URI
            return json_response(
                400,
                _oauth_error(
                    "unauthorized_client", 700016, f"Application '{client.client_id}' may not sign people in."
                ),
            )
        with self.sandbox.lock:
            if grant == "authorization_code":
                return self._redeem_code(request, client, form)
            if grant == "refresh_token":
                return self._redeem_refresh(request, client, form)
        return json_response(
            400, _oauth_error("unsupported_grant_type", 70003, f"The grant type '{grant}' is not supported.")
        )

    def _authenticate_client(self, request: Request, form: dict[str, str]) -> demo.App | Response:
        """The methods discovery advertises: a secret in the body or in HTTP Basic, or a client assertion
        signed with the demo client's certificate (what MSAL sends for a certificate credential)."""
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                pair = base64.b64decode(header[6:].strip(), validate=True).decode()
            except ValueError:
                return json_response(
                    401, _oauth_error("invalid_client", 7000216, "The Basic credentials are malformed.")
                )
            basic_id, _, basic_secret = pair.partition(":")
            client_id, secret = client_id or unquote(basic_id), unquote(basic_secret)  # RFC 6749 2.3.1 encodes both
        client = demo.app(client_id)
        if client is None:
            return json_response(
                400,
                _oauth_error(
                    "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not found."
                ),
            )
        if form.get("client_assertion_type") == JWT_BEARER:
            problem = self._assertion_problem(request, client, form.get("client_assertion", ""))
            if problem:
                return json_response(401, _oauth_error("invalid_client", 700027, problem))
            return client
        if secret is None:
            return json_response(
                401,
                _oauth_error(
                    "invalid_client",
                    7000216,
                    "'client_assertion', 'client_secret' or 'request' is required for the "
                    f"'{form.get('grant_type')}' grant type.",
                ),
            )
        if not secrets.compare_digest(secret, client.secret):
            return json_response(
                401,
                _oauth_error(
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. "
                    "Ensure the secret being sent in the request is the client secret "
                    "value, not the client secret ID.",
                ),
            )
        return client

    def _assertion_problem(self, request: Request, client: demo.App, assertion: str) -> str | None:
        if client.client_id != demo.CLIENT_ID:
            return f"Client assertion contains an invalid signature. No certificate is registered for '{client.client_id}'."
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return "Client assertion failed signature validation."
        thumbprints = {"x5t": hashes.SHA1(), "x5t#S256": hashes.SHA256()}  # noqa: S303 - Entra's x5t is SHA-1
        named = [k for k in thumbprints if k in header]
        if not named or any(
            header[k].rstrip("=") != _b64(self.client_certificate.fingerprint(thumbprints[k])) for k in named
        ):
            return (
                f"Client assertion failed signature validation. The key was not found. Thumbprint of key used by "
                f"client: '{header.get('x5t#S256') or header.get('x5t')}'."
            )
        audience = f"{request.base_url}/{request.params['tenant']}/oauth2/v2.0/token"
        try:
            claims = jwt.decode(
                assertion,
                self.client_certificate.public_key(),
                algorithms=["RS256", "PS256"],
                audience=audience,
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "iss", "sub"],
                },
            )
        except jwt.InvalidAudienceError:
            return f"The audience claim must be '{audience}'."
        except jwt.PyJWTError:
            return "Client assertion failed signature validation."
        if claims["iss"] != client.client_id or claims["sub"] != client.client_id:
            return "The issuer and subject of the client assertion must be the client id."
        if claims["exp"] <= self.sandbox.clock.now().timestamp():
            return "Client assertion is not within its valid time range."
        return None

    def _app_token(self, request: Request, client: demo.App, scope: str) -> Response:
        """Client credentials: an app-only token for the client's own service principal, for ARM, for the portal's
        API (no `scp`: an API must not take it for a person), or for Azure Monitor's Logs Ingestion (whose
        documented scope is `https://monitor.azure.com//.default`: the resource with its trailing slash; Entra ID
        takes `https://monitor.azure.com/.default` too)."""
        if scope.split() == [f"{demo.API_ID_URI}/.default"]:
            return self._app_api_token(request, client)
        audience = {
            f"{demo.ARM_AUDIENCE}/.default": demo.ARM_AUDIENCE,
            f"{demo.MONITOR_AUDIENCE}/.default": demo.MONITOR_AUDIENCE,
            f"{demo.MONITOR_AUDIENCE}//.default": demo.MONITOR_AUDIENCE,
        }.get(scope.strip())
        if audience is None or len(scope.split()) != 1:
            return json_response(
                400,
                _oauth_error(
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {scope} is not valid. Client credential "
                    "flows must have a scope value with /.default suffixed to the resource identifier (application ID "
                    "URI).",
                ),
            )
        now = int(self.sandbox.clock.now().timestamp())
        lifetime = self.sandbox.knobs.access_token_lifetime_s
        claims = {
            "aud": audience,
            "iss": self.arm_issuer(request.base_url),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "tid": demo.TENANT_ID,
            "oid": client.object_id,
            "sub": client.object_id,
            "appid": client.client_id,
            "idtyp": "app",
            "ver": "1.0",
            "uti": _uti(),
        }
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": self._sign(claims),
            },
            {"Cache-Control": "no-store"},
        )

    def _app_api_token(self, request: Request, client: demo.App) -> Response:
        now = int(self.sandbox.clock.now().timestamp())
        lifetime = self.sandbox.knobs.access_token_lifetime_s
        claims = {
            "aud": demo.CLIENT_ID,
            "iss": self.issuer(request.base_url),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "tid": demo.TENANT_ID,
            "oid": client.object_id,
            "sub": client.object_id,
            "azp": client.client_id,
            "azpacr": "1",
            "roles": [],
            "idtyp": "app",
            "ver": "2.0",
            "uti": _uti(),
        }
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": self._sign(claims),
            },
            {"Cache-Control": "no-store"},
        )

    def _redeem_code(self, request: Request, client: demo.App | demo.PublicClient, form: dict[str, str]) -> Response:
        entry = self.sandbox.codes.get(form.get("code", ""))
        now = self.sandbox.clock.now()
        if entry is None or entry.get("client_id", demo.CLIENT_ID) != client.client_id:
            return json_response(
                400, _oauth_error("invalid_grant", 9002313, "Invalid request. The code is malformed or unknown.")
            )
        if entry["used"]:
            return json_response(
                400,
                _oauth_error(
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                ),
            )
        if parse_time(entry["expires"]) <= now:
            return json_response(
                400,
                _oauth_error(
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity.",
                ),
            )
        if form.get("redirect_uri") != entry["redirect_uri"]:
            return json_response(
                400,
                _oauth_error(
                    "invalid_grant", 50148, "The redirect_uri does not match the one used in the authorization request."
                ),
            )
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not secrets.compare_digest(digest, entry["challenge"]):
            return json_response(
                400,
                _oauth_error(
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                ),
            )
        entry["used"] = True
        return self._tokens(
            request, demo.person(entry["user"]), entry["nonce"], now, form.get("scope") or entry["scope"], client
        )

    def _redeem_refresh(self, request: Request, client: demo.App | demo.PublicClient, form: dict[str, str]) -> Response:
        entry = self.sandbox.world["refresh_tokens"].get(_digest(form.get("refresh_token", "")))
        now = self.sandbox.clock.now()
        if entry is None or parse_time(entry["expires"]) <= now:
            return json_response(
                400, _oauth_error("invalid_grant", 700082, "The refresh token has expired due to inactivity.")
            )
        if entry.get("client_id", demo.CLIENT_ID) != client.client_id:
            return json_response(
                400, _oauth_error("invalid_grant", 70000, "The refresh token was issued to another application.")
            )
        # A refresh token serves any resource the person consented to: the scope asked now decides which.
        return self._tokens(
            request, demo.person(entry["user"]), None, now, form.get("scope") or entry.get("scope", ""), client
        )

    def _arm_claims(self, request: Request, person: demo.Person, client_id: str, issued: int) -> dict:
        """An ARM access token (v1, as ARM's are) for the person, asked for by `client_id`."""
        return {
            "tid": demo.TENANT_ID,
            "oid": person.object_id,
            "name": person.display_name,
            "iat": issued,
            "nbf": issued,
            "iss": self.arm_issuer(request.base_url),
            "aud": demo.ARM_AUDIENCE,
            "scp": "user_impersonation",
            "upn": person.username,
            "unique_name": person.username,
            "appid": client_id,
            "ipaddr": request.client_ip,
            "ver": "1.0",
            "exp": issued + self.sandbox.knobs.access_token_lifetime_s,
            "uti": _uti(),
        }

    def _api_claims(self, request: Request, person: demo.Person, client_id: str, issued: int) -> dict:
        """An access token for the portal's own API as Entra v2 writes one (`aud` is the API's client id,
        `azp` the client that asked, the person's app roles in `roles`)."""
        return {
            "aud": demo.CLIENT_ID,
            "iss": self.issuer(request.base_url),
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.sandbox.knobs.access_token_lifetime_s,
            "tid": demo.TENANT_ID,
            "oid": person.object_id,
            "sub": _digest(f"{person.object_id}:{demo.API_ID_URI}")[:43],
            "name": person.display_name,
            "preferred_username": person.username,
            "scp": demo.API_SCOPE,
            "roles": self.app_roles(person),
            "azp": client_id,
            "azpacr": "1" if demo.app(client_id) else "0",
            "ver": "2.0",
            "uti": _uti(),
        }

    def _tokens(
        self,
        request: Request,
        person: demo.Person,
        nonce: str | None,
        now: dt.datetime,
        scope: str,
        client: demo.App | demo.PublicClient,
    ) -> Response:
        """An ID token for the client that signed the person in, a refresh token, and an access token for
        the resource its scope names: the portal's API or else ARM."""
        client_id = client.client_id
        knobs = self.sandbox.knobs
        issued = int(now.timestamp())
        common = {
            "tid": demo.TENANT_ID,
            "oid": person.object_id,
            "name": person.display_name,
            "iat": issued,
            "nbf": issued,
        }
        id_claims = {
            **common,
            "iss": self.issuer(request.base_url),
            "aud": client_id,
            "ver": "2.0",
            "sub": _digest(f"{person.object_id}:{client_id}")[:43],
            "preferred_username": person.username,
            "roles": self.app_roles(person),
            "exp": issued + 3600,
            "uti": _uti(),
        }
        if nonce:
            id_claims["nonce"] = nonce
        for_api = _resource(scope) == demo.API_ID_URI
        access_claims = (self._api_claims if for_api else self._arm_claims)(request, person, client.client_id, issued)
        refresh_token = secrets.token_urlsafe(48)
        self.sandbox.world["refresh_tokens"][_digest(refresh_token)] = {
            "user": person.key,
            "client_id": client_id,
            "scope": scope,
            "expires": format_time(now + dt.timedelta(seconds=knobs.refresh_token_lifetime_s)),
        }
        self.sandbox.save()
        client_info = (
            base64.urlsafe_b64encode(json.dumps({"uid": person.object_id, "utid": demo.TENANT_ID}).encode())
            .rstrip(b"=")
            .decode()
        )
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "scope": f"{demo.API_ID_URI}/{demo.API_SCOPE}"
                if for_api
                else f"{demo.ARM_AUDIENCE}/user_impersonation",
                "expires_in": knobs.access_token_lifetime_s,
                "ext_expires_in": knobs.access_token_lifetime_s,
                "access_token": self._sign(access_claims),
                "refresh_token": refresh_token,
                "id_token": self._sign(id_claims),
                "client_info": client_info,
            },
            {"Cache-Control": "no-store"},
        )

    def _on_behalf_of(self, request: Request, client: demo.App, form: dict[str, str]) -> Response:
        """The on-behalf-of grant: a middle tier (the portal) trades the token a person sent it for an ARM
        token for that person, with Entra's checks and errors (wrong audience, expired, app-only, consent,
        Conditional Access)."""
        if form.get("requested_token_use") != "on_behalf_of":
            return json_response(
                400,
                _oauth_error(
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'requested_token_use'.",
                ),
            )
        claims = self._assertion_claims(form.get("assertion", ""))
        if isinstance(claims, Response):
            return claims
        if claims.get("aud") not in (client.client_id, f"api://{client.client_id}"):
            return _invalid_assertion(
                f"Assertion audience does not match the Client app presenting the assertion. The audience in the "
                f"assertion was '{claims.get('aud')}' and the expected audience is '{client.client_id}' or one of the "
                f"Application Uris of this application with App ID '{client.client_id}'({client.display_name})."
            )
        if claims.get("iss") != self.issuer(request.base_url) or claims.get("tid") != demo.TENANT_ID:
            return _invalid_assertion(
                f"The issuer of the assertion '{claims.get('iss')}' is not valid for this tenant."
            )
        if claims.get("idtyp") == "app":
            return _invalid_assertion(
                "The assertion is an application token: on-behalf-of works only for a user's "
                "token (use client credentials for the application itself)."
            )
        if "scp" not in claims:  # an ID token: it says who signed in, it grants nothing
            return json_response(
                400,
                _oauth_error(
                    "invalid_grant",
                    240002,
                    "Input id_token cannot be used as 'urn:ietf:params:oauth:grant-type:jwt-bearer' grant.",
                ),
            )
        now = self.sandbox.clock.now()
        if not claims.get("nbf", 0) - 300 <= now.timestamp() < claims.get("exp", 0):
            return json_response(
                400,
                _oauth_error(
                    "invalid_grant",
                    500133,
                    "Assertion is not within its valid time range. Ensure that the access "
                    "token is not expired before using it for user assertion, or request a new token. Current time: "
                    f"{format_time(now)}, expiry time of assertion {format_time(dt.datetime.fromtimestamp(claims.get('exp', 0), dt.UTC))}.",
                ),
            )
        wanted = [s for s in form.get("scope", "").split() if s not in ("openid", "profile", "offline_access")]
        if not wanted or any(s not in ARM_SCOPES for s in wanted):
            return json_response(
                400,
                _oauth_error(
                    "invalid_scope", 70011, f"The provided value for scope {' '.join(wanted) or '(none)'} is not valid."
                ),
            )
        person = next((p for p in demo.PEOPLE if p.object_id == claims.get("oid")), None)
        if person is None:
            return _invalid_assertion("The user in the assertion was not found in the tenant.")
        conditions = self.sandbox.world.get("obo_conditions", {}).get(person.key, {})
        if conditions.get("consent") is False:
            error = _oauth_error(
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the "
                f"application with ID '{client.client_id}' named '{client.display_name}'. Send an "
                "interactive authorization request for this user and resource.",
            )
            return json_response(400, {**error, "suberror": "consent_required"})
        if conditions.get("mfa"):
            error = _oauth_error(
                "interaction_required",
                50079,
                "Due to a configuration change made by your "
                "administrator, or because you moved to a new location, you must enroll in "
                f"multi-factor authentication to access '{demo.ARM_AUDIENCE}'.",
            )
            challenge = {
                "access_token": {
                    "capolids": {
                        "essential": True,
                        "values": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"mfa:{person.key}"))],
                    }
                }
            }
            return json_response(400, {**error, "claims": json.dumps(challenge, separators=(",", ":"))})
        issued = int(now.timestamp())
        lifetime = self.sandbox.knobs.access_token_lifetime_s
        answer = {
            "token_type": "Bearer",
            "scope": f"{demo.ARM_AUDIENCE}/user_impersonation",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self._sign(self._arm_claims(request, person, client.client_id, issued)),
        }
        if "offline_access" in form.get("scope", "").split():
            refresh_token = secrets.token_urlsafe(48)
            self.sandbox.world["refresh_tokens"][_digest(refresh_token)] = {
                "user": person.key,
                "scope": f"{demo.ARM_AUDIENCE}/user_impersonation",
                "expires": format_time(now + dt.timedelta(seconds=self.sandbox.knobs.refresh_token_lifetime_s)),
            }
            self.sandbox.save()
            answer["refresh_token"] = refresh_token
        return json_response(200, answer, {"Cache-Control": "no-store"})

    def _assertion_claims(self, assertion: str) -> dict | Response:
        """The assertion's claims once its signature is the tenant's own (RS256 only: `alg: none` is refused)."""
        if not assertion:
            return json_response(
                400,
                _oauth_error(
                    "invalid_request", 900144, "The request body must contain the following parameter: 'assertion'."
                ),
            )
        try:
            return jwt.decode(
                assertion,
                self.key.public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return _invalid_assertion("Assertion failed signature validation.")

    def logout(self, request: Request) -> Response:
        target = request.query.get("post_logout_redirect_uri", "")
        if registered_redirect(target):
            return redirect(target)
        return html_response(200, _page("Signed out", "<h1>You have signed out of the sandbox tenant.</h1>"))


def _resource(scope: str) -> str:
    """The one resource a token is asked for: the portal's API when one of its scopes is named, else ARM."""
    return demo.API_ID_URI if any(s in API_SCOPES for s in scope.split()) else demo.ARM_AUDIENCE


def _resource_problem(scope: str) -> Response | None:
    """Entra's refusals of an `api://` scope: an API nobody exposes, a scope the portal's API does not define,
    or two resources in one request (a token has one audience)."""
    named = scope.split()
    for s in named:
        if s.startswith("api://") and s not in API_SCOPES:
            resource = s.rsplit("/", 1)[0]
            if resource != demo.API_ID_URI:
                return json_response(
                    400,
                    _oauth_error(
                        "invalid_resource",
                        500011,
                        f"The resource principal named "
                        f"{resource} was not found in the tenant named {demo.TENANT_ID}. "
                        "This can happen if the application has not been installed by "
                        "the administrator of the tenant or consented to by any user in "
                        "the tenant.",
                    ),
                )
            return json_response(
                400, _oauth_error("invalid_scope", 70011, f"The provided value for scope {s} is not valid.")
            )
    if any(s in API_SCOPES for s in named) and any(s.startswith(demo.ARM_AUDIENCE) for s in named):
        return json_response(
            400,
            _oauth_error(
                "invalid_scope",
                28000,
                "Provided value for the input parameter scope is not valid because it contains more than one resource.",
            ),
        )
    return None


def _invalid_assertion(description: str) -> Response:
    return json_response(400, _oauth_error("invalid_grant", 50013, description))


def _answer(target: str, query: dict[str, str], values: dict[str, str]) -> Response:
    """The authorize answer in the response mode asked for: a redirect with a query string (the default for a
    code), or a page whose form posts the values to the redirect URI (`form_post`, what MSAL's own loopback
    listener for public clients asks for)."""
    if query.get("response_mode") == "form_post":
        fields = "".join(
            f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>" for k, v in values.items()
        )
        return html_response(
            200,
            _page(
                "Signing in",
                f"<form method='post' action='{html.escape(target)}'>"
                f"{fields}<noscript><button type='submit'>Continue</button></noscript></form>"
                "<script>document.forms[0].submit()</script>",
            ),
        )
    return redirect(target + ("&" if "?" in target else "?") + urlencode(values))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _uti() -> str:
    """Entra's unique token identifier: 16 random bytes, base64url."""
    return _b64(secrets.token_bytes(16))


def _oauth_error(error: str, code: int, description: str) -> dict:
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    timestamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return {
        "error": error,
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        # Entra ends every description with the ids a support case asks for.
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: "
        f"{correlation_id} Timestamp: {timestamp}",
    }


def _page(title: str, body: str) -> str:
    # The viewport line: without it a phone lays the page out 980 px wide and shrinks it.
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)} · sandbox"
        "</title><style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem}"
        "ul{padding:0}li{list-style:none;margin:.6rem 0}button{font-size:1rem;padding:.4rem .9rem;min-width:10rem}"
        ".who{color:#555;font-size:.9rem}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
