"""The portal's API (/api/v1, docs/api.md in the portal) with the signed-in person's token; its
problem+json answers (RFC 9457) turned into the person's words and the command's exit codes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import requests

from . import __version__
from .config import Portal, Session, unreachable
from .errors import Exit, JitError

VM_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/virtualMachines/[^/]+$", re.IGNORECASE
)


class Api:
    def __init__(self, portal: Portal, token: str) -> None:
        self.portal = portal
        self.http = Session()
        self.http.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/json", "X-Jit-Client": f"cli/{__version__}"}
        )

    def get(self, path: str, **params) -> dict:
        return self._json(self._send("GET", path, params=_present(params)))

    def post(self, path: str, body: dict | None = None) -> dict:
        # One key per call: a retry after a lost answer gets the first answer, never a second request.
        return self._json(self._send("POST", path, json=body or {}, headers={"Idempotency-Key": str(uuid.uuid4())}))

    def stream(self, path: str, **params) -> Iterator[bytes]:
        response = self._send("GET", path, params=_present(params), stream=True)
        yield from response.iter_content(chunk_size=64 * 1024)

    def pages(self, path: str, **params) -> Iterator[dict]:
        """Every item of a paged list ({"items", "page", "pages", "count"})."""
        page = 1
        while True:
            answer = self.get(path, **params, page=page)
            yield from answer.get("items", [])
            if page >= int(answer.get("pages") or 1):
                return
            page += 1

    def vm_id(self, name: str) -> str:
        """A VM as a person names it (web-01, or rg-web/web-01, or Azure's id) → Azure's id."""
        if VM_ID.match(name):
            return name
        group, _, vm = name.rpartition("/")
        found = [
            item
            for tab in ("configured", "not-configured")
            for item in self.pages("vms", tab=tab, q=vm, per_page=100)
            if item.get("name", "").lower() == vm.lower()
            and (not group or item.get("resource_group", "").lower() == group.lower())
        ]
        ids = sorted({item["id"] for item in found})
        if not ids:
            raise JitError(f"No VM named '{name}' that you can see (jit ls lists them).", Exit.OTHER, "not-found")
        if len(ids) > 1:
            raise JitError(
                f"'{name}' names {len(ids)} VMs; say which with <resource group>/<name>:\n  " + "\n  ".join(ids),
                Exit.USAGE,
                "ambiguous",
            )
        return ids[0]

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        url = self.portal.api_base_url + path.lstrip("/")
        try:
            response = self.http.request(method, url, **kwargs)
        except requests.RequestException as error:
            raise unreachable(error) from error
        if response.status_code >= 400:
            raise problem_error(response, self.portal.address)
        return response

    @staticmethod
    def _json(response: requests.Response) -> dict:
        try:
            return response.json()
        except ValueError as error:
            raise JitError(f"The portal answered something that is not JSON ({response.status_code}).") from error


def vm_path(vm_id: str) -> str:
    """vms/{subscription}/{resource group}/{name} for Azure's VM id."""
    parts = vm_id.strip("/").split("/")
    return "vms/" + "/".join(quote(p, safe="") for p in (parts[1], parts[3], parts[7]))


def problem_error(response: requests.Response, portal: str) -> JitError:
    """RFC 9457 problem details → the person's words, with the exit code of its kind."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    kind = str(problem.get("type", "")).rsplit("/", 1)[-1] or "about:blank"
    detail = problem.get("detail") or problem.get("title") or response.reason or f"HTTP {response.status_code}"
    messages = [
        m
        for field, found in (problem.get("errors") or {}).items()
        for m in (found if isinstance(found, list) else [found])
    ]
    status = response.status_code
    if status == 401:
        challenge = response.headers.get("WWW-Authenticate", "")
        if "insufficient_claims" in challenge:
            return JitError(
                "Entra ID wants you to sign in again (a policy of your organisation asks for it): run `jit login`.",
                Exit.SIGN_IN,
                "sign-in-again",
            )
        return JitError(
            f"You are not signed in to {portal}, or your sign-in expired: run `jit login`.",
            Exit.SIGN_IN,
            "not-signed-in",
        )
    if kind == "azure-refused":
        return JitError(f"Azure refused: {detail}", Exit.AZURE_REFUSED, kind, problem)
    if status == 403:
        return JitError(
            problem.get("detail") or "The portal gives you no role for this.",
            Exit.SIGN_IN,
            kind or "forbidden",
            problem,
        )
    if status == 429:
        wait = response.headers.get("Retry-After", "a few")
        return JitError(f"Too many calls: try again in {wait} s.", Exit.OTHER, "rate-limited", problem)
    text = "\n".join([detail, *(f"  {m}" for m in messages if m != detail)])
    return JitError(text, Exit.OTHER, kind, problem)


def _present(params: dict) -> dict:
    return {k: v for k, v in params.items() if v not in (None, "", [])}
