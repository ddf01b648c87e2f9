"""What the pages show, read through the API: the VM tabs (filters, paging), one VM, the rules, the trail and the
audit report (JSON pages, CSV, JSON lines), each within the reader's roles and Azure read scope; and what the API
says when Entra wants the person to sign in again."""

from __future__ import annotations

import base64
import json

import pytest

from requests_app.models import ApprovalRule
from tests.conftest import MY_IP

pytestmark = pytest.mark.integration


def test_the_vm_tabs_with_filters_and_paging(api_for, subs):
    bob = api_for("bob")
    configured = bob.get("/vms").json()
    assert configured["count"] == configured["counts"]["configured"] > 0
    assert {v["tab"] for v in configured["items"]} == {"configured"}
    web = bob.get("/vms", {"q": "web", "subscription": subs["prod"], "per_page": 10}).json()
    assert web["items"] and all("web" in v["name"] and v["subscription_id"] == subs["prod"] for v in web["items"])
    unsupported = bob.get("/vms", {"tab": "unsupported"}).json()
    assert unsupported["items"] and all(v["reason"] for v in unsupported["items"])
    total = bob.get("/vms", {"tab": "not-configured"}).json()["count"]
    paged = bob.get("/vms", {"tab": "not-configured", "per_page": 10, "page": 2}).json()
    assert paged["page"] == min(2, paged["pages"]) and paged["count"] == total


@pytest.mark.parametrize(
    "query",
    [{"tab": "everything"}, {"per_page": 7}, {"subscription": "not-a-sub"}, {"power": "melting"}, {"page": "x"}],
)
def test_a_filter_the_page_would_ignore_is_422_for_a_script(api_for, query):
    answer = api_for("bob").get("/vms", query)
    assert answer.status_code == 422 and answer["Content-Type"] == "application/problem+json"


def test_alice_sees_only_what_azure_lets_her_read(api_for, subs):
    seen = {
        v["subscription_id"]
        for tab in ("configured", "not-configured", "unsupported")
        for v in api_for("alice").get("/vms", {"tab": tab, "per_page": 100}).json()["items"]
    }
    assert seen <= {subs["prod"], subs["dev"]} and seen


def test_one_vm_with_its_policy_and_what_azure_would_refuse(api_for, subs, view):
    alice = api_for("alice")
    vm = alice.get(f"/vms/{subs['prod']}/rg-web/web-02").json()
    assert vm["name"] == "web-02" and 22 in [p["number"] for p in vm["ports"]]
    assert vm["why_not_request"] == "" and vm["why_not_configure"].startswith("Azure ")
    assert (
        alice.post(
            "/requests",
            {"vms": [vm["id"]], "ports": [22], "duration_minutes": 60, "justification": "x"},
            REMOTE_ADDR=MY_IP,
        ).status_code
        == 201
    )
    opened = alice.get(f"/vms/{subs['prod']}/rg-web/web-02").json()
    assert [(x["port"], x["requestor"]) for x in opened["open_now"]] == [(22, "alice@contoso.test")]
    assert alice.get(f"/vms/{subs['shared']}/rg-shared/anything").status_code == 404


def test_rules_are_read_by_admins_and_approvers(api_for, subs):
    ApprovalRule.objects.create(
        name="Production", subscription_id=subs["prod"], approvals_needed=1, approvers="hana@contoso.test"
    )
    ApprovalRule.objects.create(name="Development", subscription_id=subs["dev"], approvals_needed=1)
    rules = api_for("hana").get("/rules").json()  # Development is outside what Azure lets Hana read
    assert [(r["name"], r["approvers"]) for r in rules] == [("Production", ["hana@contoso.test"])]
    assert rules[0]["summary"].startswith("Production: 1 approval")
    assert api_for("alice").get("/rules").status_code == 403


def test_the_trail_paged_within_scope_with_each_channel(api_for, view):
    web_02 = view.vm_id("Contoso Production", "rg-web", "web-02")
    api_for("alice").post(
        "/requests", {"vms": [web_02], "duration_minutes": 60, "justification": "x"}, REMOTE_ADDR=MY_IP
    )
    events = api_for("carol").get("/audit/events", {"action": "access.request"}).json()
    assert [(e["actor"], e["channel"]) for e in events["items"]] == [("alice@contoso.test", "api")]
    assert api_for("alice").get("/audit/events").status_code == 403
    csv = api_for("carol").get("/audit/events", {"format": "csv"})
    text = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()
    assert text[0].startswith("Time,Actor,Action") and 'rel="describedby"' in csv["Link"]  # the header is line 1
    lines = api_for("carol").get("/audit/events", {"format": "jsonl"})
    rows = [json.loads(line) for line in b"".join(lines.streaming_content).decode().splitlines()]
    assert rows[0]["action"] == "csv.download" and rows[0]["channel"] == "api"  # the CSV above, on the trail
    assert any(r["action"] == "access.request" and r["channel"] == "api" for r in rows)


def test_the_report_as_json_csv_and_json_lines(api_for, view):
    web_02 = view.vm_id("Contoso Production", "rg-web", "web-02")
    api_for("alice").post(
        "/requests", {"vms": [web_02], "duration_minutes": 60, "justification": "INC-42"}, REMOTE_ADDR=MY_IP
    )
    carol = api_for("carol")
    page = carol.get("/audit/report", {"operation": "initiate"}).json()
    mine = [r for r in page["items"] if r["justification"] == "INC-42"]
    assert mine and mine[0]["vms"] == "web-02" and mine[0]["initiated_by"] == "alice@contoso.test"
    csv = carol.get("/audit/report", {"operation": "initiate", "format": "csv"})
    text = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()
    assert text[0].startswith("Correlation id,") and 'rel="describedby"' in csv["Link"]  # the header is line 1
    assert any("INC-42" in line for line in text[1:])
    lines = carol.get("/audit/report", {"operation": "initiate", "format": "jsonl"})
    rows = [json.loads(line) for line in b"".join(lines.streaming_content).decode().splitlines()]
    assert rows and all(set(r) == set(page["items"][0]) for r in rows)
    assert any(r["justification"] == "INC-42" for r in rows)
    downloads = carol.get("/audit/events", {"action": "csv.download"}).json()["items"]
    assert {e["channel"] for e in downloads} == {"api"} and len(downloads) == 2
    bad = carol.get("/audit/report", {"start": "1999-01-01"})
    assert bad.status_code == 422 and "keeps JIT history for" in bad.json()["errors"]["start"][0]


def test_conditional_access_asks_the_client_to_sign_in_again_with_entras_claims(api_for, sandbox):
    sandbox.control("POST", "people/alice/obo", {"mfa": True})
    answer = api_for("alice").get("/vms")
    assert answer.status_code == 401 and answer["Content-Type"] == "application/problem+json"
    challenge = answer["WWW-Authenticate"]
    assert 'error="insufficient_claims"' in challenge and "AADSTS50079" in answer.json()["detail"]
    claims = base64.b64decode(challenge.split('claims="')[1].rstrip('"')).decode()
    assert json.loads(claims)["access_token"]["capolids"]["essential"] is True


def test_missing_consent_is_401_in_entras_words(api_for, sandbox):
    sandbox.control("POST", "people/bob/obo", {"consent": False})
    answer = api_for("bob").get("/vms")
    assert answer.status_code == 401 and "AADSTS65001" in answer.json()["detail"]


def test_the_openapi_document_and_its_reference_page_are_served_without_a_cdn(client, db):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200 and document.json()["openapi"].startswith("3.")
    assert "/api/v1/requests" in document.json()["paths"]
    page = client.get("/api/v1/docs")
    text = page.content.decode()
    assert page.status_code == 200 and "/static/" in text and "cdn" not in text.lower()
    assert "script-src 'self'" in page["Content-Security-Policy"]
    # The portal's own page from the document (axe passes it: tests/browser/test_accessibility.py): every operation,
    # its answers with their media types, no script of its own.
    operations = [(m, p) for p, ops in document.json()["paths"].items() for m in ops]
    assert text.count('<article class="operation">') == len(operations) > 15
    assert "<code>application/problem+json</code>" in text and 'id="schema-ProblemOut"' in text
    assert "swagger" not in text.lower()


def test_one_on_behalf_of_exchange_serves_a_tokens_calls(api_for, sandbox, monkeypatch):
    """MSAL does not keep on-behalf-of answers for reuse; the gateway does, so a script's calls cost Entra one
    exchange per token, not one per call (counted at our own boundary, calling through to MSAL)."""
    from core.gateway import auth
    from vms.inventory import forget

    exchanges = []
    through = auth._as_person
    monkeypatch.setattr(auth, "_as_person", lambda cache: (exchanges.append(type(cache).__name__), through(cache))[1])
    alice = api_for("alice")
    sandbox.control("POST", "stats")
    for _ in range(3):
        forget()  # no cached inventory: every call asks Azure again
        assert alice.get("/vms").status_code == 200
    assert exchanges == ["_NoTokenCache"] and sandbox.control("GET", "stats")["calls"]["jit.list"] >= 3
