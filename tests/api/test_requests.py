"""Requests through the API, as the person (on-behalf-of, real MSAL and SDK against the sandbox): the form's
checks and words, Idempotency-Key, approvals, extend, end, cancel, the channel on the trail."""

from __future__ import annotations

import pytest
from django.test import override_settings

from requests_app.models import AccessRequest, ApprovalRule
from tests.conftest import MY_IP
from trail.models import AuditEvent

pytestmark = pytest.mark.integration


@pytest.fixture
def web_02(view) -> str:
    return view.vm_id("Contoso Production", "rg-web", "web-02")


def _ask(api, vm_id: str, headers: dict | None = None, **body):
    return api.post(
        "/requests",
        {"vms": [vm_id], "ports": [22], "duration_minutes": 60, "justification": "Deploying hotfix 4.2.2", **body},
        REMOTE_ADDR=MY_IP,
        **(headers or {}),
    )


def test_alice_opens_ssh_as_herself_and_the_trail_says_api(api_for, sandbox, view, web_02):
    answer = _ask(api_for("alice"), web_02)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["state"] == "Open now" and [(i["vm_name"], i["port"], i["fate"]) for i in body["items"]] == [
        ("web-02", 22, "open")
    ]
    assert body["items"][0]["connect_address"].startswith("20.")
    last = view.policies("Contoso Production", "rg-web", "westeurope")[0].requests[-1]
    # Azure judged and recorded the call as Alice (on-behalf-of), not as the portal.
    assert (last.requestor, last.justification) == ("alice@contoso.test", "Deploying hotfix 4.2.2")
    assert last.virtual_machines[0].ports[0].allowed_source_address_prefix == MY_IP
    event = AuditEvent.objects.get(action="access.request")
    assert event.details["channel"] == "api" and event.actor_name == "alice@contoso.test" and event.source_ip == MY_IP
    mine = api_for("alice").get("/access").json()
    assert [(a["vm_name"], a["connect_port"]) for a in mine] == [("web-02", 22)] and mine[0]["seconds_left"] > 3000


def test_the_jit_command_is_its_own_channel(api_for, view, web_02):
    assert _ask(api_for("alice", HTTP_X_JIT_CLIENT="cli/0.1"), web_02).status_code == 201
    assert AuditEvent.objects.get(action="access.request").details["channel"] == "cli"


def test_a_web_request_says_web(alice, view):
    from tests.conftest import fill, submit

    submit(alice, fill(alice, [view.vm_id("Contoso Production", "rg-web", "web-02")]))
    assert AuditEvent.objects.get(action="access.request").details["channel"] == "web"


def test_a_retried_call_with_the_same_idempotency_key_creates_one_request(api_for, sandbox, web_02):
    alice = api_for("alice")
    sandbox.control("POST", "stats")
    first = _ask(alice, web_02, headers={"HTTP_IDEMPOTENCY_KEY": "retry-7f3a"})
    again = _ask(alice, web_02, headers={"HTTP_IDEMPOTENCY_KEY": "retry-7f3a"})
    assert first.status_code == 201 and again.status_code == 201 and again["Idempotency-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and AccessRequest.objects.count() == 1
    assert sandbox.control("GET", "stats")["calls"]["jit.initiate"] == 1
    reused = _ask(alice, web_02, headers={"HTTP_IDEMPOTENCY_KEY": "retry-7f3a"}, duration_minutes=90)
    assert reused.status_code == 422 and "another body" in reused.json()["detail"]
    other = _ask(alice, web_02, headers={"HTTP_IDEMPOTENCY_KEY": "retry-8b1c"})
    assert other.json()["id"] != first.json()["id"] and AccessRequest.objects.count() == 2


def test_a_retry_after_the_answer_was_lost_finds_the_request_in_the_database(api_for, sandbox, web_02):
    """The kept answer is gone (another instance, an evicted cache): the request's own key still finds it."""
    from django.core.cache import cache

    alice = api_for("alice")
    first = _ask(alice, web_02, headers={"HTTP_IDEMPOTENCY_KEY": "lost-answer"})
    cache.clear()
    again = _ask(alice, web_02, headers={"HTTP_IDEMPOTENCY_KEY": "lost-answer"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert AccessRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"duration_minutes": 240}, "__all__", "web-02 port 22 allows at most 3 h, not 4 h"),
        ({"duration_minutes": 2}, "duration_minutes", "From 5 min to 24 h."),
        ({"source": "0.0.0.0/0"}, "__all__", "0.0.0.0/0 is too broad a source for web-02 port 22"),
        ({"source": "fe80::1%eth0"}, "source", ""),
        ({"source": "not an address"}, "source", ""),
        ({"ports": [8080]}, "ports", "web-02 has none of the ports 8080 in its JIT policy"),
        ({"justification": "x" * 1001}, "justification", "Keep it to 1000 characters; it has 1001."),
        (
            {"vms": ["/subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/virtualMachines/z"]},
            "vms",
            "is not a virtual machine you can see",
        ),
        ({"vms": []}, "vms", ""),
        ({"duration_minutes": "an hour"}, "duration_minutes", ""),
    ],
)
def test_the_forms_checks_and_words_answer_422(api_for, web_02, body, field, words):
    answer = _ask(api_for("alice"), web_02, **body)
    assert answer.status_code == 422, answer.content
    problem = answer.json()
    assert answer["Content-Type"] == "application/problem+json" and field in problem["errors"]
    assert words in " ".join(problem["errors"][field])
    assert AccessRequest.objects.count() == 0


def test_azure_rights_missing_are_403_in_words(api_for, view):
    answer = _ask(api_for("dave"), view.vm_id("Contoso Production", "rg-web", "web-02"))
    assert answer.status_code == 422 and "not a virtual machine you can see" in str(answer.json()["errors"]["vms"])


def test_a_request_under_a_rule_waits_and_hana_approves_it_through_the_api(api_for, sandbox, view, web_02, subs):
    ApprovalRule.objects.create(name="Production", subscription_id=subs["prod"], approvals_needed=1)
    alice, hana = api_for("alice"), api_for("hana")
    asked = _ask(alice, web_02).json()
    assert asked["state"] == "Pending approval (0 of 1)" and asked["rule"] == "Production"
    assert [i["fate"] for i in asked["items"]] == ["Pending approval (0 of 1)"]  # not "waiting for Azure"
    inbox = hana.get("/approvals").json()
    assert [(w["request"]["id"], w["can_decide"]) for w in inbox] == [(asked["id"], True)]
    assert alice.get("/approvals").status_code == 403
    refused = hana.post(f"/requests/{asked['id']}/decision", {"decision": "deny"})
    assert refused.status_code == 422 and refused.json()["errors"]["comment"] == [
        "Say why you deny it: the requester reads this."
    ]
    decided = hana.post(f"/requests/{asked['id']}/decision", {"decision": "approve", "comment": "ok"})
    assert decided.status_code == 200, decided.content
    assert decided.json()["state"] == "Open now" and decided.json()["decisions"][0]["approver"] == "hana@contoso.test"
    last = view.policies("Contoso Production", "rg-web", "westeurope")[0].requests[-1]
    assert last.requestor == "hana@contoso.test"  # the approver's own token opened it
    again = hana.post(f"/requests/{asked['id']}/decision", {"decision": "approve", "comment": "ok"})
    assert again.status_code == 409 and again.json()["detail"]
    channels = list(
        AuditEvent.objects.filter(action__startswith="access.")
        .order_by("seq")
        .values_list("action", "details__channel")
    )
    assert channels == [("access.request", "api"), ("access.approve", "api"), ("access.open", "api")]


def test_cancel_a_waiting_request(api_for, web_02, subs):
    ApprovalRule.objects.create(name="Production", subscription_id=subs["prod"], approvals_needed=1)
    alice = api_for("alice")
    asked = _ask(alice, web_02).json()
    assert api_for("bob").post(f"/requests/{asked['id']}/cancel").status_code == 403  # not a requester
    cancelled = alice.post(f"/requests/{asked['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "Cancelled"


def test_extend_then_end(api_for, sandbox, view, web_02):
    alice = api_for("alice")
    asked = _ask(alice, web_02).json()
    too_long = alice.post(f"/requests/{asked['id']}/extend", {"duration_minutes": 60 * 30})
    assert too_long.status_code == 422 and too_long.json()["errors"]["duration_minutes"] == ["From 5 min to 3 h."]
    extended = alice.post(f"/requests/{asked['id']}/extend", {"duration_minutes": 120})
    assert extended.status_code == 201, extended.content
    assert extended.json()["extends"] == asked["id"] and extended.json()["state"] == "Open now"
    assert api_for("carol").post(f"/requests/{extended.json()['id']}/end").status_code == 403
    ended = alice.post(f"/requests/{extended.json()['id']}/end")
    assert ended.status_code == 200, ended.content
    assert ended.json()["state"] == "Ended early" and [i["fate"] for i in ended.json()["items"]] == ["ended early"]
    assert AuditEvent.objects.filter(action="access.end").get().details["channel"] == "api"
    again = alice.post(f"/requests/{extended.json()['id']}/end")  # nothing of it is open any more: words, not a 500
    assert again.status_code == 409 and again.json()["detail"] == "Nothing of this request is open any more."


def test_history_and_one_request(api_for, web_02):
    alice = api_for("alice")
    first, second = (_ask(alice, web_02, duration_minutes=minutes).json() for minutes in (60, 90))
    mine = alice.get("/requests").json()
    assert [r["id"] for r in mine["items"]] == [second["id"], first["id"]] and mine["count"] == 2
    assert alice.get(f"/requests/{first['id']}").json()["state"] == "Replaced by a newer request"
    assert api_for("hana").get(f"/requests/{first['id']}").status_code == 200  # an approver within her scope
    assert api_for("erin").get(f"/requests/{first['id']}").status_code == 403  # no portal role
    assert alice.get("/requests/999999").status_code == 404
    # Someone else's request, or none, in the same words (never Django's "No AccessRequest matches the given query.")
    for missing in (
        alice.post("/requests/999999/extend", {"duration_minutes": 60}),
        alice.post("/requests/999999/end"),
        api_for("bob").post(f"/requests/{first['id']}/cancel"),
    ):
        assert missing.status_code in (403, 404) and "AccessRequest" not in missing.json()["detail"]
    assert api_for("dave").post(f"/requests/{first['id']}/extend", {"duration_minutes": 60}).json()["detail"] == (
        "No such request, or not one you may see."
    )


@override_settings(API_RATE_PER_MINUTE=3)
def test_a_person_past_the_rate_limit_gets_429_with_retry_after(api_for):
    alice = api_for("alice")
    assert [alice.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    limited = alice.get("/me")
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["type"].endswith("/rate-limited")
    assert api_for("bob").get("/me").status_code == 200  # per person


@override_settings(API_WRITES_PER_MINUTE=1)
def test_changes_have_their_own_smaller_limit(api_for, web_02):
    alice = api_for("alice")
    assert _ask(alice, web_02).status_code == 201
    assert _ask(alice, web_02).status_code == 429
    assert alice.get("/requests").status_code == 200


def test_a_request_not_waiting_to_be_opened_is_409_to_open_again(api_for, web_02):
    asked = _ask(api_for("alice"), web_02).json()
    answer = api_for("hana").post(f"/requests/{asked['id']}/open")
    assert answer.status_code == 409 and answer.json()["detail"] == "This request is not waiting to be opened."
    assert api_for("alice").post(f"/requests/{asked['id']}/open").status_code == 403


def test_a_port_with_its_own_window_and_source(api_for, web_02):
    answer = _ask(
        api_for("alice"),
        web_02,
        duration_minutes=120,
        overrides=[{"vm": web_02, "port": 22, "duration_minutes": 30, "source": "198.51.100.7"}],
    )
    assert answer.status_code == 201, answer.content
    item = AccessRequest.objects.get().items.get()
    assert (item.minutes, item.source) == (30, "198.51.100.7")
    too_long = _ask(api_for("alice"), web_02, overrides=[{"vm": web_02, "port": 22, "duration_minutes": 600}])
    assert too_long.status_code == 422 and "allows at most 3 h, not 10 h" in str(too_long.json()["errors"])
    elsewhere = _ask(api_for("alice"), web_02, overrides=[{"vm": web_02, "port": 2222}])
    assert elsewhere.status_code == 422 and "Port 2222 of" in elsewhere.json()["errors"]["overrides"][0]
