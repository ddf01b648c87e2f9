"""The API's per-port end (the web's End on one row of My access, issue #23): one VM and port of a request, and
nothing else, with the same rules (own, or an approver's or admin's in their scope; an auditor never) and trail."""

from __future__ import annotations

import pytest

from requests_app.models import AccessRequestItem
from tests.conftest import MY_IP
from trail.models import AuditEvent

pytestmark = pytest.mark.integration

DEV = ("Contoso Development", "rg-dev")


@pytest.fixture
def three(api_for, view) -> dict:
    """Alice's one request for dev-01, dev-02 and dev-03, port 22 each (Development opens without approval)."""
    ids = [view.vm_id(*DEV, name) for name in ("dev-01", "dev-02", "dev-03")]
    asked = api_for("alice").post(
        "/requests",
        {"vms": ids, "ports": [22], "duration_minutes": 60, "justification": "rotating keys"},
        REMOTE_ADDR=MY_IP,
    )
    assert asked.status_code == 201 and asked.json()["state"] == "Open now", asked.content
    return asked.json()


def _item(request: dict, vm: str) -> int:
    return next(i["id"] for i in request["items"] if i["vm_name"] == vm)


def _lines(view, vm: str) -> list[tuple[str, str]]:
    return [
        (p.status, p.status_reason)
        for r in view.policies("Contoso Development", "rg-dev", "eastus")[0].requests
        for v in r.virtual_machines
        if v.id.endswith(f"/{vm}")
        for p in v.ports
    ]


def test_ending_one_port_ends_that_vm_and_port_alone(api_for, view, three):
    alice = api_for("alice")
    ended = alice.post(f"/items/{_item(three, 'dev-02')}/end")
    assert ended.status_code == 200, ended.content
    body = ended.json()
    assert body["state"] == "Open now"  # the rest of the request stays open
    assert {i["vm_name"]: i["fate"] for i in body["items"]} == {
        "dev-01": "open",
        "dev-02": "ended early",
        "dev-03": "open",
    }
    assert _lines(view, "dev-02")[-2:] == [("Revoked", "NewerRequestInitiated"), ("Initiated", "UserRequested")]
    assert _lines(view, "dev-01")[-1] == ("Initiated", "UserRequested")
    [event] = AuditEvent.objects.filter(action="access.end")
    assert [(i["vm"].rsplit("/", 1)[-1], i["port"]) for i in event.details["items"]] == [("dev-02", 22)]
    assert (event.outcome, event.details["channel"], event.actor_name) == ("ended early", "api", "alice@contoso.test")
    assert sorted(a["vm_name"] for a in alice.get("/access").json()) == ["dev-01", "dev-03"]
    again = alice.post(f"/items/{_item(three, 'dev-02')}/end")  # a second `jit end dev-02 --port 22`
    assert again.status_code == 409 and again["Content-Type"] == "application/problem+json"
    # Said of that port: the request's other ports are open (it read "Nothing of this request is open any more").
    assert again.json()["detail"] == "dev-02 port 22 is not open any more."


def test_the_last_open_port_ends_the_request(api_for, three):
    alice = api_for("alice")
    for vm in ("dev-01", "dev-02", "dev-03"):
        last = alice.post(f"/items/{_item(three, vm)}/end")
        assert last.status_code == 200, last.content
    assert last.json()["state"] == "Ended early"


def test_nobody_ends_someone_elses_port_but_an_admin_of_its_scope(api_for, three):
    item = _item(three, "dev-03")
    for who, status in (("dave", 404), ("hana", 404), ("carol", 403)):  # not his; outside her scope; an auditor
        refused = api_for(who).post(f"/items/{item}/end")
        assert refused.status_code == status and refused["Content-Type"] == "application/problem+json", who
    missing = api_for("alice").post("/items/999999/end")
    assert missing.status_code == 404 and missing.json()["detail"] == "No such request, or not one you may see."
    assert AuditEvent.objects.filter(action="access.end").count() == 0
    ended = api_for("bob").post(f"/items/{item}/end")
    assert ended.status_code == 200, ended.content
    assert AccessRequestItem.objects.get(pk=item).ended_by.upn == "bob@contoso.test"
