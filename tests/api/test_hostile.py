"""What an attacker (or an unlucky script) sends the API: each refusal is a problem document with a 4xx status,
never a 500 or an HTML page."""

from __future__ import annotations

import pytest

from tests.conftest import MY_IP

pytestmark = pytest.mark.integration


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_ending_a_request_that_is_no_longer_open_is_a_conflict(api_for, view):
    alice = api_for("alice")
    web_02 = view.vm_id("Contoso Production", "rg-web", "web-02")
    asked = alice.post(
        "/requests", {"vms": [web_02], "ports": [22], "duration_minutes": 60, "justification": "x"}, REMOTE_ADDR=MY_IP
    ).json()
    assert alice.post(f"/requests/{asked['id']}/end").status_code == 200
    again = _problem(alice.post(f"/requests/{asked['id']}/end"), 409)  # `jit end` run twice
    assert again["detail"] == "Nothing of this request is open any more."
    _problem(api_for("bob").post(f"/requests/{asked['id']}/end"), 409)  # an admin, likewise


@pytest.mark.parametrize(
    "body",
    ["{'vms':", "[" * 100_000 + "]" * 100_000, b"\xff\xfe{}", "vms=a"],
    ids=["broken", "nested past the parser", "not UTF-8", "a form"],
)
def test_a_body_that_is_not_json_is_a_400_problem(api_for, body):
    answer = api_for("alice").client.post(
        "/api/v1/requests", body, content_type="application/json", **api_for("alice").headers
    )
    assert _problem(answer, 400)["type"].endswith("/bad-request")


def test_a_body_past_the_upload_limit_is_a_413_problem(api_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    alice = api_for("alice")
    answer = alice.post("/requests", {"vms": ["x"], "duration_minutes": 60, "justification": "a" * 2000})
    assert _problem(answer, 413)["detail"] == "The body may be at most 1000 bytes."


@pytest.mark.parametrize("path", ["/requests/-1", "/requests/1x/end", "/no-such-route", "/vms/a/b/c/d"])
def test_a_path_no_route_matches_is_a_404_problem(client, db, path):
    for answer in (client.get(f"/api/v1{path}"), client.post(f"/api/v1{path}", {}, content_type="application/json")):
        assert _problem(answer, 404)["type"].endswith("/not-found")


def test_a_vm_whose_subscription_azure_did_not_list_is_azure_unavailable_not_bad_input(api_for, sandbox, view):
    # A script must tell "try again" from "fix your input": the VM is real, Azure failed to list it just now.
    web_02 = view.vm_id("Contoso Production", "rg-web", "web-02")
    # The JIT policies: an ARM list per subscription whether the fleet comes from Resource Graph or the ARM lists.
    sandbox.control("POST", "faults", {"operation": "jit.list", "kind": "500", "rate": 1.0})
    try:
        answer = api_for("alice").post(
            "/requests", {"vms": [web_02], "ports": [22], "duration_minutes": 60}, REMOTE_ADDR=MY_IP
        )
    finally:
        sandbox.control("DELETE", "faults")
    body = _problem(answer, 502)
    assert body["type"].endswith("/azure-unavailable") and "Contoso Production" in body["detail"]
    assert answer["Retry-After"] == "30"
