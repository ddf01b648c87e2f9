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
    asked = alice.post("/requests", {"vms": [web_02], "ports": [22], "duration_minutes": 60, "justification": "x"},
                       REMOTE_ADDR=MY_IP).json()
    assert alice.post(f"/requests/{asked['id']}/end").status_code == 200
    again = _problem(alice.post(f"/requests/{asked['id']}/end"), 409)  # `jit end` run twice
    assert again["detail"] == "Nothing of this request is open any more."
    _problem(api_for("bob").post(f"/requests/{asked['id']}/end"), 409)  # an admin, likewise
