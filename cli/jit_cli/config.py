"""Where the portal is (JIT_PORTAL, or `jit configure`), what it publishes for the command, and the HTTP session
every call goes through."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from . import __version__
from .errors import Exit, JitError

WELL_KNOWN = "/.well-known/jit-portal.json"
TIMEOUT_SECONDS = 30


def config_dir() -> Path:
    """JIT_CONFIG_DIR, else $XDG_CONFIG_HOME/jit (~/.config/jit)."""
    if os.environ.get("JIT_CONFIG_DIR"):
        return Path(os.environ["JIT_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jit"


def load_settings() -> dict:
    path = config_dir() / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise JitError(f"{path} is not valid JSON ({error}); fix it or run `jit configure` again.") from error


def save_settings(values: dict) -> Path:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "config.json"
    path.write_text(json.dumps({**load_settings(), **values}, indent=2) + "\n")
    return path


def normalize_portal(address: str) -> str:
    """The portal's address as a base URL: https:// added when no scheme was typed, no trailing slash."""
    address = address.strip()
    if "://" not in address:
        address = f"https://{address}"
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise JitError(f"'{address}' is not a web address: give the portal's, e.g. https://jit.example.com", Exit.USAGE)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def portal_address() -> str:
    address = os.environ.get("JIT_PORTAL") or load_settings().get("portal")
    if not address:
        raise JitError("Which portal? Run `jit configure https://<your portal>` or set JIT_PORTAL.", Exit.USAGE)
    return normalize_portal(address)


class Session(requests.Session):
    """requests, trusting JIT_CA_BUNDLE when set (a TLS-inspecting proxy, the local sandbox) even where the
    environment names another bundle (REQUESTS_CA_BUNDLE would otherwise win over a session's own)."""

    def __init__(self) -> None:
        super().__init__()
        self.ca_bundle = os.environ.get("JIT_CA_BUNDLE") or None
        self.headers["User-Agent"] = f"jit-cli/{__version__}"

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.ca_bundle:
            merged["verify"] = self.ca_bundle
        return merged

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        return super().request(method, url, *args, **kwargs)


def unreachable(error: requests.RequestException) -> JitError:
    """A call that got no answer (the portal's, or Entra ID's through MSAL), in words: where, and for a certificate
    this machine does not trust, what to set."""
    where = urlsplit(error.request.url).netloc if error.request is not None and error.request.url else "the server"
    if isinstance(error, requests.exceptions.SSLError):
        return JitError(
            f"Cannot reach {where}: its TLS certificate is not trusted here. If your organisation uses "
            "its own CA (or a TLS-inspecting proxy), set JIT_CA_BUNDLE to that CA's PEM file."
        )
    return JitError(f"Cannot reach {where}: {error}")


@dataclass(frozen=True)
class Portal:
    """What the portal publishes at /.well-known/jit-portal.json."""

    address: str
    tenant_id: str
    authority: str
    client_id: str
    scopes: list[str]
    api_base_url: str
    instance_discovery: bool


def discover(address: str, http: requests.Session) -> Portal:
    url = address + WELL_KNOWN
    try:
        response = http.get(url)
    except requests.RequestException as error:
        raise unreachable(error) from error
    if response.status_code != 200:
        raise JitError(f"{url} answered {response.status_code}: is {address} a jitportal?")
    try:
        document = response.json()
        portal = Portal(
            address=address,
            tenant_id=document["tenant_id"],
            authority=document["authority"],
            client_id=document["client_id"] or "",
            scopes=list(document["scopes"]),
            api_base_url=urljoin(address + "/", document["api_base_url"]),
            instance_discovery=bool(document.get("instance_discovery", True)),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise JitError(f"{url} is not the document a jitportal publishes ({error}).") from error
    if not portal.client_id:
        raise JitError(
            f"{address} publishes no client id for the jit command: its admins set AZURE_CLI_CLIENT_ID "
            "(README: From the terminal)."
        )
    return portal
