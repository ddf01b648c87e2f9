"""Signing in as a public client with MSAL: the system browser with PKCE on http://localhost by default, or a
device code (SSH sessions, headless machines). Tokens live in msal-extensions' cache: encrypted where the OS
offers it (Keychain, DPAPI, libsecret); a plain file readable only by the person when they opt in, and told so."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import msal
import msal_extensions

from .config import Portal, Session, config_dir, load_settings
from .errors import Exit, JitError, not_signed_in

PLAIN = "plain"


def _cache_path() -> Path:
    return config_dir() / "token_cache.bin"


def plain_cache_chosen() -> bool:
    return os.environ.get("JIT_TOKEN_CACHE") == PLAIN or load_settings().get("token_cache") == PLAIN


def open_persistence(plain: bool | None = None) -> tuple[msal_extensions.persistence.BasePersistence, str]:
    """The cache's persistence and a sentence saying where tokens are kept."""
    path = _cache_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        persistence = msal_extensions.build_encrypted_persistence(str(path))
        persistence.load()
        return persistence, f"Tokens are kept encrypted ({type(persistence).__name__})."
    except msal_extensions.persistence.PersistenceNotFound:
        return persistence, f"Tokens are kept encrypted ({type(persistence).__name__})."
    except Exception as error:  # noqa: BLE001 - each OS store fails its own way (no keyring, no D-Bus, no gi)
        unavailable = f"{type(error).__name__}: {error}"
    if plain if plain is not None else plain_cache_chosen():
        persistence = msal_extensions.FilePersistence(str(path))
        if path.exists():
            path.chmod(0o600)
        return (
            persistence,
            f"Tokens are kept in {path}, readable only by you (mode 0600) but NOT encrypted: no "
            "encrypted store is available here.",
        )
    raise JitError(
        f"No encrypted store for tokens on this machine ({unavailable}). To keep them in {path}, readable only by "
        "you but not encrypted, run `jit login --plain-token-cache` (or set JIT_TOKEN_CACHE=plain).",
        Exit.OTHER,
        "no-token-store",
    )


def application(portal: Portal, plain: bool | None = None) -> tuple[msal.PublicClientApplication, str]:
    persistence, where = open_persistence(plain)
    app = msal.PublicClientApplication(
        portal.client_id,
        authority=portal.authority,
        token_cache=msal_extensions.PersistedTokenCache(persistence),
        http_client=Session(),
        instance_discovery=portal.instance_discovery,
    )
    return app, where


def login(portal: Portal, device_code: bool, say: Callable[[str], None], plain: bool | None = None) -> tuple[dict, str]:
    """Sign in; return the ID token's claims and where the tokens are kept."""
    app, where = application(portal, plain)
    if device_code:
        flow = app.initiate_device_flow(scopes=portal.scopes)
        if "user_code" not in flow:
            raise _sign_in_error(flow)
        say(flow["message"])
        result = app.acquire_token_by_device_flow(flow)
    else:
        say("Opening your browser to sign in… (over SSH or without a browser: jit login --device-code)")
        try:
            result = app.acquire_token_interactive(portal.scopes, prompt="select_account", timeout=300)
        except Exception as error:  # noqa: BLE001 - MSAL raises plain errors when no browser can be opened
            raise JitError(f"Could not sign in with a browser ({error}): try `jit login --device-code`.") from error
    if "access_token" not in result:
        raise _sign_in_error(result)
    # One person at a time: a sign-in as someone else replaces the one before.
    for account in app.get_accounts():
        if account["home_account_id"] != _home_account(result):
            app.remove_account(account)
    return result.get("id_token_claims", {}), where


def logout(portal: Portal) -> list[str]:
    app, _ = application(portal)
    accounts = app.get_accounts()
    for account in accounts:
        app.remove_account(account)
    return [a.get("username", "") for a in accounts]


def access_token(portal: Portal) -> str:
    app, _ = application(portal)
    accounts = app.get_accounts()
    if not accounts:
        raise not_signed_in(portal.address)
    result = app.acquire_token_silent(portal.scopes, account=accounts[0])
    if not result or "access_token" not in result:
        raise JitError(f"Your sign-in to {portal.address} has expired: run `jit login`.", Exit.SIGN_IN, "not-signed-in")
    return result["access_token"]


def _home_account(result: dict) -> str:
    claims = result.get("id_token_claims", {})
    return f"{claims.get('oid')}.{claims.get('tid')}"


def _sign_in_error(result: dict) -> JitError:
    error = result.get("error", "")
    description = result.get("error_description", "").split(" Trace ID:")[0]
    words = {
        "authorization_declined": "You declined the sign-in on the verification page.",
        "expired_token": "The code expired before anyone signed in with it: run `jit login --device-code` again.",
        "access_denied": "The sign-in was cancelled.",
    }.get(error)
    if "AADSTS7000218" in description:
        words = (
            "Entra ID refused the device code: the command's app registration does not allow public client "
            "flows (its admins turn on 'Allow public client flows', README: From the terminal)."
        )
    return JitError(
        words or f"Sign-in failed: {description or error or result}", Exit.SIGN_IN, "sign-in-failed", {"error": error}
    )


def stderr_say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
