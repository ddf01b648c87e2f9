"""Public clients as Entra ID treats them: no secret, the authorization code with PKCE on a loopback redirect,
and the device authorization grant (RFC 8628) with its verification page, where a tester types the code and
picks a demo person.

Entra infers the client type from the flow: a loopback redirect belongs to the "Mobile and desktop" platform,
so the code flow is public whatever the registration says; the device code has no redirect, so Entra reads the
registration's "Allow public client flows" and, when it is off, asks for a secret it will never get
(AADSTS7000218)."""

from __future__ import annotations

import datetime as dt
import html
import secrets
import string
import time

from . import demo
from .http import Request, Response, html_response, json_response, route
from .identity import Identity, _oauth_error, _page
from .timeutil import format_time, parse_time

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Entra's user codes are nine letters and digits, easy to read aloud: no 0/O or 1/I.
USER_CODE_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1I")
RESOURCE_SCOPE_PREFIXES = ("http://", "https://", "api://")
SLOW_DOWN_STEP_S = 5  # RFC 8628 3.5: every slow_down adds five seconds to the interval the client must keep


class PublicClients:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.sandbox = identity.sandbox
        identity.public_clients = self

    def routes(self) -> list:
        return [
            route("POST", "/{tenant}/oauth2/v2.0/devicecode", self.device_code, "entra.devicecode"),
            route("GET", "/devicelogin", self.verification_page, "entra.devicelogin"),
            route("POST", "/devicelogin", self.verify, "entra.devicelogin"),
        ]

    # --- state ---------------------------------------------------------------------------------
    def allows_public_flows(self, client: demo.PublicClient) -> bool:
        return bool(self.sandbox.world.setdefault("public_client_flows", {}).get(client.client_id, True))

    def set_public_flows(self, client: demo.PublicClient, allowed: bool) -> None:
        with self.sandbox.lock:
            self.sandbox.world.setdefault("public_client_flows", {})[client.client_id] = allowed
            self.sandbox.save()

    def _codes(self) -> dict[str, dict]:
        return self.sandbox.device_codes

    def _by_user_code(self, user_code: str) -> dict | None:
        wanted = user_code.strip().upper().replace("-", "")
        return next((e for e in self._codes().values() if e["user_code"] == wanted), None)

    def pending(self) -> list[dict]:
        now = self.sandbox.clock.now()
        with self.sandbox.lock:
            return [
                {"user_code": e["user_code"], "client_id": e["client_id"], "scope": e["scope"], "expires": e["expires"]}
                for e in self._codes().values()
                if e["state"] == "pending" and parse_time(e["expires"]) > now
            ]

    def decide(self, user_code: str, user: str | None) -> str | None:
        """Approve as `user`, or decline when `user` is None; return a problem in Entra's words, or None."""
        with self.sandbox.lock:
            entry = self._by_user_code(user_code)
            if (problem := self._code_problem(entry)) is not None:
                return problem
            if user is not None and user not in {p.key for p in demo.PEOPLE}:
                return f"No demo person '{user}'."
            entry["state"], entry["user"] = ("approved", user) if user else ("declined", None)
        return None

    def _code_problem(self, entry: dict | None) -> str | None:
        if entry is None:
            return "AADSTS70018: The code you entered is not valid. Check the code and try again."
        if parse_time(entry["expires"]) <= self.sandbox.clock.now():
            return "AADSTS70019: That code has expired. Go back to your device and request a new one."
        if entry["state"] != "pending":
            return "AADSTS90120: That code was already used. Go back to your device and request a new one."
        return None

    # --- the device authorization endpoint ------------------------------------------------------
    def device_code(self, request: Request) -> Response:
        if (error := self.identity._tenant_error(request)) is not None:
            return error
        form = request.form()
        client = demo.public_client(form.get("client_id", ""))
        if client is None:
            return json_response(
                400,
                _oauth_error(
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{form.get('client_id')}' was not "
                    "found in the directory. The device code flow is for public clients.",
                ),
            )
        scope = form.get("scope", "")
        if not scope.strip():
            return json_response(
                400,
                _oauth_error(
                    "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
                ),
            )
        if (problem := _scope_problem(client, scope)) is not None:
            return problem
        knobs = self.sandbox.knobs
        device_code, user_code = (
            secrets.token_urlsafe(48),
            "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(9)),
        )
        verification_uri = f"{request.base_url}/devicelogin"
        with self.sandbox.lock:
            self._codes()[device_code] = {
                "client_id": client.client_id,
                "scope": scope,
                "user_code": user_code,
                "state": "pending",
                "user": None,
                "interval": knobs.device_code_interval_s,
                "last_poll": None,
                "expires": format_time(self.sandbox.clock.now() + dt.timedelta(seconds=knobs.device_code_lifetime_s)),
            }
        # Entra's answer: no verification_uri_complete; `message` says it all in one sentence.
        return json_response(
            200,
            {
                "user_code": user_code,
                "device_code": device_code,
                "verification_uri": verification_uri,
                "expires_in": knobs.device_code_lifetime_s,
                "interval": knobs.device_code_interval_s,
                "message": f"To sign in, use a web browser to open the page {verification_uri} and enter the code "
                f"{user_code} to authenticate.",
            },
            {"Cache-Control": "no-store"},
        )

    # --- the token endpoint, for public clients -------------------------------------------------
    def token(self, request: Request, form: dict[str, str], client: demo.PublicClient) -> Response:
        if (
            form.get("client_secret")
            or form.get("client_assertion")
            or request.headers.get("authorization", "").lower().startswith("basic ")
        ):
            return json_response(
                401,
                _oauth_error(
                    "invalid_client",
                    700025,
                    "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
                ),
            )
        grant = form.get("grant_type")
        if grant == DEVICE_CODE_GRANT:
            if not self.allows_public_flows(client):
                return json_response(
                    401,
                    _oauth_error(
                        "invalid_client",
                        7000218,
                        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                    ),
                )
            with self.sandbox.lock:
                return self._poll(request, form.get("device_code", ""))
        if grant in ("authorization_code", "refresh_token"):
            if form.get("scope") and (problem := _scope_problem(client, form["scope"])) is not None:
                return problem
            with self.sandbox.lock:
                if grant == "authorization_code":
                    return self.identity._redeem_code(request, client, form)
                return self.identity._redeem_refresh(request, client, form)
        return json_response(
            400, _oauth_error("unsupported_grant_type", 70003, f"The grant type '{grant}' is not supported.")
        )

    def _poll(self, request: Request, device_code: str) -> Response:
        entry = self._codes().get(device_code)
        if entry is None:
            return json_response(400, _oauth_error("bad_verification_code", 70018, "The device code is not valid."))
        now = self.sandbox.clock.now()
        if parse_time(entry["expires"]) <= now:
            return json_response(400, _oauth_error("expired_token", 70019, "Verification code expired."))
        if entry["state"] == "declined":
            return json_response(
                400, _oauth_error("authorization_declined", 70020, "The end user denied the authorization request.")
            )
        if entry["state"] == "redeemed":
            return json_response(400, _oauth_error("invalid_grant", 54005, "The device code was already redeemed."))
        if entry["state"] == "pending":
            # The pace is wall-clock time (the client's sleep), not the sandbox clock that tests move.
            polled, entry["last_poll"] = entry["last_poll"], time.monotonic()
            if polled is not None and entry["last_poll"] - polled < entry["interval"] - 1:
                entry["interval"] += SLOW_DOWN_STEP_S
                return json_response(
                    400, _oauth_error("slow_down", 70016, "Polling too fast: wait the interval between requests.")
                )
            return json_response(
                400,
                _oauth_error(
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ),
            )
        entry["state"] = "redeemed"
        return self.identity._tokens(
            request, demo.person(entry["user"]), None, now, entry["scope"], demo.public_client(entry["client_id"])
        )

    # --- the verification page ------------------------------------------------------------------
    def verification_page(self, request: Request) -> Response:
        return html_response(200, _code_form(request.query.get("otc", "")))

    def verify(self, request: Request) -> Response:
        form = request.form()
        user_code = form.get("user_code", "")
        with self.sandbox.lock:
            entry = self._by_user_code(user_code)
            problem = self._code_problem(entry)
        if problem is not None:
            return html_response(400, _code_form(user_code, problem))
        client = demo.public_client(entry["client_id"])
        if form.get("user") or form.get("cancel"):
            problem = self.decide(user_code, None if form.get("cancel") else form.get("user"))
            if problem:
                return html_response(400, _code_form(user_code, problem))
            words = (
                "You have signed in to the {app} application on your device. You may now close this window."
                if form.get("user")
                else "You declined to sign in to {app}. You may now close this window."
            )
            return html_response(
                200,
                _page(
                    "Device sign-in",
                    f"<h1>Device sign-in</h1><p role='status'>{html.escape(words.format(app=client.display_name))}</p>",
                ),
            )
        rows = "".join(
            f"<li><button type='submit' name='user' value='{p.key}'>{html.escape(p.display_name)}</button>"
            f" <span class='who'>{html.escape(p.username)} · roles: "
            f"{html.escape(', '.join(self.identity.app_roles(p)) or 'none')}</span></li>"
            for p in demo.PEOPLE
        )
        body = (
            f"<h1>Pick an account</h1><p>{html.escape(client.display_name)} is asking to sign you in "
            f"(permission: {html.escape(entry['scope'])}). Only continue if you started this on your own "
            f"device.</p><form method='post'><input type='hidden' name='user_code' "
            f"value='{html.escape(entry['user_code'])}'><ul>{rows}</ul>"
            "<button type='submit' name='cancel' value='1'>Cancel</button></form>"
        )
        return html_response(200, _page("Device sign-in", body))


def _scope_problem(client: demo.PublicClient, scope: str) -> Response | None:
    """A resource scope the client was not granted: Entra asks for consent the command cannot give."""
    for requested in scope.split():
        if requested.startswith(RESOURCE_SCOPE_PREFIXES) and requested not in client.scopes:
            return json_response(
                400,
                _oauth_error(
                    "invalid_grant",
                    65001,
                    f"The user or administrator has not consented to use the application "
                    f"with ID '{client.client_id}' named '{client.display_name}' for the scope '{requested}'. Send "
                    "an interactive authorization request for this user and resource.",
                ),
            )
    return None


def _code_form(user_code: str, problem: str = "") -> str:
    alert = f"<p role='alert'>{html.escape(problem)}</p>" if problem else ""
    return _page(
        "Enter code",
        f"<h1>Enter code</h1>{alert}<p>Enter the code displayed on your device.</p>"
        "<form method='post'><label for='user_code'>Code</label> "
        f"<input id='user_code' name='user_code' value='{html.escape(user_code)}' autocomplete='off' "
        "autofocus required> <button type='submit'>Next</button></form>",
    )
