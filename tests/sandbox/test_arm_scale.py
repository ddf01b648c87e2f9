"""The sandbox's cost per ARM call does not grow with the fleet: a generated 1,000-subscription fleet is what
`make bench` serves (tests/bench_fleet.py), and every call runs under the sandbox's one lock."""

from __future__ import annotations

import json

from sandbox import demo, rbac
from sandbox.http import Request
from sandbox.server import App

BASE = "https://127.0.0.1:9"


def _get(app: App, token: str, path: str, version: str) -> tuple[int, dict]:
    request = Request(
        "GET", path, {"api-version": version}, {"authorization": f"Bearer {token}"}, b"", "127.0.0.1", BASE
    )
    answer = app.handle(request)
    return answer.status, json.loads(answer.body)


def test_an_arm_call_checks_only_the_role_assignments_of_its_subscription(tmp_path, monkeypatch):
    app = App(tmp_path, 9)
    app.sandbox.generate(400, 40)
    carol = demo.person("carol")
    token = app.identity._sign(
        app.identity._arm_claims(
            Request("GET", "/", {}, {}, b"", "127.0.0.1", BASE),
            carol,
            demo.CLIENT_ID,
            int(app.sandbox.clock.now().timestamp()),
        )
    )
    sub = app.sandbox.world["subscriptions"][7]["subscriptionId"]
    checked: list[str] = []
    holds = rbac.holds
    monkeypatch.setattr(
        rbac, "holds", lambda assignment, principal: checked.append(assignment["scope"]) or holds(assignment, principal)
    )

    status, body = _get(
        app,
        token,
        f"/subscriptions/{sub}/resourceGroups/rg-0000/providers/Microsoft.Authorization/permissions",
        "2022-04-01",
    )
    assert status == 200 and body["value"], body
    status, body = _get(
        app, token, f"/subscriptions/{sub}/providers/Microsoft.Security/jitNetworkAccessPolicies", "2020-01-01"
    )
    assert status == 200 and body["value"], body

    assert checked and {scope.split("/")[2] for scope in checked} == {sub}


def test_a_token_checked_once_is_still_refused_when_altered(tmp_path):
    app = App(tmp_path, 9)
    token = app.identity._sign(
        app.identity._arm_claims(
            Request("GET", "/", {}, {}, b"", "127.0.0.1", BASE),
            demo.person("carol"),
            demo.CLIENT_ID,
            int(app.sandbox.clock.now().timestamp()),
        )
    )
    assert _get(app, token, "/subscriptions", "2022-12-01")[0] == 200
    header, payload, signature = token.split(".")
    altered = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert _get(app, altered, "/subscriptions", "2022-12-01")[0] == 401
