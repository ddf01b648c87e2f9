"""What the approval workflow tells people, received by a real SMTP server and a webhook receiver on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.notify import deliver_due
from requests_app.approvals import lapse_due, remind_ending
from requests_app.models import AccessRequest
from tests.requests_app.conftest import ask, decide

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _mail(smtp_server) -> list[tuple[str, str, str]]:
    deliver_due()
    return [(m["To"], m["Subject"], m.get_content()) for m in smtp_server.messages]


def test_approvers_hear_of_a_pending_request_and_the_requester_of_the_decision(
    person, production_rule, view, smtp_server, webhook_receiver, settings
):
    settings.PORTAL_URL = "https://jit.contoso.test"
    alice, hana = person("alice"), person("hana")
    hana.get("/access/approvals/")  # the portal sees what Azure lets her read
    access = ask(alice, view, justification="patch openssl")
    sent = _mail(smtp_server)
    assert [(to, subject) for to, subject, _ in sent] == [
        ("hana@contoso.test", "Approval needed: alice@contoso.test asks for access")
    ]
    body = sent[0][2]
    assert "web-02:22" in body and "patch openssl" in body
    assert f"https://jit.contoso.test/access/requests/{access.pk}/" in body
    post = webhook_receiver.requests[0]
    assert post.verifies() and post.json()["request_id"] == access.pk and "alice@contoso.test" in post.json()["text"]

    decide(hana, access, "approve", "Go ahead")
    to, subject, body = _mail(smtp_server)[-1]
    assert (to, subject) == ("alice@contoso.test", "Your request was approved: access is open")
    assert "hana@contoso.test approved and opened" in body and "Go ahead" in body
    page = alice.get(f"/access/requests/{access.pk}/").content.decode()
    assert "What was sent about this request" in page and "Your request was approved: access is open" in page


def test_nothing_sent_holds_a_token_or_a_link_that_acts(person, production_rule, view, smtp_server, webhook_receiver):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view)
    decide(hana, access, "deny", "Not today")
    texts = [m.as_string() for m in (deliver_due() and smtp_server.messages)] + [
        p.body.decode() for p in webhook_receiver.requests
    ]
    assert texts
    session_keys = [c.session.session_key for c in (alice, hana)]
    for text in texts:
        assert "eyJ" not in text  # no JWT (access, ID or refresh token)
        assert not any(key in text for key in session_keys)
        assert "/decide" not in text and "/end" not in text and "/open" not in text  # links only to pages


def test_a_denial_and_an_expiry_reach_the_requester(person, production_rule, view, smtp_server):
    alice, hana = person("alice"), person("hana")
    denied = ask(alice, view)
    decide(hana, denied, "deny", "Use staging")
    assert _mail(smtp_server)[-1][:2] == ("alice@contoso.test", "Your request was denied")
    ask(alice, view)
    lapse_due(timezone.now() + timedelta(minutes=61))
    to, subject, body = _mail(smtp_server)[-1]
    assert (to, subject) == ("alice@contoso.test", "Your request expired: nobody decided in time")


def test_break_glass_tells_approvers_and_auditors_at_once(person, production_rule, view, smtp_server):
    for key in ("carol", "hana"):  # people the portal knows, and whose Azure read scope it has seen
        person(key).get("/vms/")
    alice = person("alice")
    ask(alice, view, break_glass="on", break_glass_reason="Production is down, INC-7")
    sent = _mail(smtp_server)
    assert sorted(to for to, subject, _ in sent if subject.startswith("Break glass")) == [
        "carol@contoso.test",
        "hana@contoso.test",
    ]
    assert all("Production is down, INC-7" in body for _, subject, body in sent if subject.startswith("Break glass"))


def test_break_glass_told_without_its_details_still_says_break_glass(person, production_rule, view, smtp_server):
    person("grace")  # an auditor whose Azure read scope the portal has not seen yet
    alice = person("alice")
    ask(alice, view, break_glass="on", break_glass_reason="Production is down, INC-7")
    sent = {to: (subject, body) for to, subject, body in _mail(smtp_server)}
    subject, body = sent["grace@contoso.test"]
    assert subject == "Break glass in the JIT portal: access opened without approval"
    assert "without waiting for approval (break glass)" in body
    assert "INC-7" not in body and "web-02" not in body and "alice" not in body


def test_ten_minutes_before_the_end_the_requester_is_asked_to_extend_once(person, view, smtp_server):
    alice = person("alice")
    access = ask(alice, view)
    end = access.items.get().end
    assert remind_ending(end - timedelta(minutes=11)) == 0
    assert remind_ending(end - timedelta(minutes=10)) == 1
    assert remind_ending(end - timedelta(minutes=5)) == 0  # once
    to, subject, body = _mail(smtp_server)[-1]
    assert (to, subject) == ("alice@contoso.test", "10 minutes left — Extend?")


def test_the_requester_hears_when_someone_else_ends_their_access(person, view, smtp_server):
    alice = person("alice")
    access = ask(alice, view)
    person("bob").post(f"/access/requests/{access.pk}/end")
    assert AccessRequest.objects.get(pk=access.pk).ended_by.upn == "bob@contoso.test"
    assert _mail(smtp_server)[-1][:2] == ("alice@contoso.test", "Your access was ended early")


def test_people_outside_the_requests_scope_hear_nothing_of_it_and_the_unseen_only_that_something_waits(
    person, production_rule, view, sandbox, smtp_server
):
    erin = person("erin", ["JIT.Approver"])  # Reader on Shared services only: Production is none of hers
    erin.get("/vms/")
    person("frank", ["JIT.Approver"])  # never looked at anything yet: the portal has not seen his scope
    hana = person("hana")
    hana.get("/vms/")
    alice = person("alice")
    access = ask(alice, view, justification="patch openssl")
    sent = {to: (subject, body) for to, subject, body in _mail(smtp_server)}
    assert set(sent) == {"hana@contoso.test", "frank@contoso.test"}
    subject, body = sent["frank@contoso.test"]
    assert subject == "A request is waiting in the JIT portal"
    assert "web-02" not in body and "patch openssl" not in body and "alice" not in body
    carol = person("carol")
    carol.get("/vms/")
    assert carol.get(f"/access/requests/{access.pk}/").status_code == 200  # an auditor in scope may look
