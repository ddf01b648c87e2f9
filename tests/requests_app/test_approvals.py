"""Approvals through the real SDK and MSAL against the sandbox: a rule makes a request wait, the last approver's
own token opens it, and every step is in the trail; extend and end now replace Azure's request."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.approvals import lapse_due
from requests_app.models import AccessRequest, Approval, ApprovalRule
from requests_app.states import RequestStatus
from tests.azure_view import AzureView
from tests.conftest import MY_IP, fill, sign_in, submit
from tests.requests_app.conftest import ask, decide
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _last_request(view: AzureView, rg="rg-web", location="westeurope"):
    return view.policies("Contoso Production", rg, location)[0].requests[-1]


def test_a_request_under_a_rule_waits_and_the_approvers_token_opens_it(person, production_rule, sandbox, view):
    alice, hana = person("alice"), person("hana")
    sandbox.control("POST", "stats")
    access = ask(alice, view, justification="patch openssl")
    assert access.status == "awaiting" and access.approvals_needed == 1
    assert sandbox.control("GET", "stats")["calls"].get("jit.initiate", 0) == 0
    page = alice.get(f"/access/requests/{access.pk}/").content.decode()
    assert "Pending approval (0 of 1)" in page and "Cancel request" in page

    inbox = hana.get("/access/approvals/")
    assert [a.pk for a, _, _ in inbox.context["waiting"]] == [access.pk]
    detail = hana.get(f"/access/requests/{access.pk}/").content.decode()
    assert "alice@contoso.test" in detail and "Approve and open" in detail

    assert decide(hana, access, "approve", "ok, go").status_code == 302
    access.refresh_from_db()
    assert access.status == "opened" and access.opened_by.upn == "hana@contoso.test"
    assert sandbox.control("GET", "stats")["calls"]["jit.initiate"] == 1
    last = _last_request(view)
    assert last.requestor == "hana@contoso.test"
    assert last.justification == "alice@contoso.test: patch openssl — approved by hana@contoso.test"
    assert last.virtual_machines[0].ports[0].allowed_source_address_prefix == MY_IP
    mine = alice.get("/access/")
    assert [(a.item.vm_name, a.item.port) for a in mine.context["open"]] == [("web-02", 22)]
    assert [p.state for p in mine.context["history"]] == ["Open now"]
    actions = list(
        AuditEvent.objects.filter(action__startswith="access.").order_by("seq").values_list("action", "outcome")
    )
    assert actions == [
        ("access.request", "pending approval"),
        ("access.approve", "approved"),
        ("access.open", "opened"),
    ]


def _web_02_ssh_max(view: AzureView, duration: str) -> None:
    """An admin changes web-02's SSH maximum in Azure, behind the portal's back."""
    security = view.clients.security(view.sub("Contoso Production"))
    policy = security.jit_network_access_policies.get("rg-web", "westeurope", "default")
    for machine in policy.virtual_machines:
        for port in machine.ports if machine.id.endswith("/web-02") else ():
            if port.number == 22:
                port.max_request_access_duration = duration
    security.jit_network_access_policies.create_or_update("rg-web", "westeurope", "default", policy)


def test_the_window_starts_when_approved(person, production_rule, sandbox, view):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view, duration_value="3")
    sandbox.advance("PT50M")  # the approver takes a while: the three hours start when the ports open
    decide(hana, access, "approve")
    port = _last_request(view).virtual_machines[0].ports[0]
    assert abs(port.end_time_utc - access.created - timedelta(minutes=50, hours=3)) < timedelta(minutes=2)


def test_a_maximum_lowered_in_azure_while_a_request_waits_caps_its_window(person, production_rule, sandbox, view):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view, duration_value="3")
    _web_02_ssh_max(view, "PT1H")  # after the request, before the approval
    decide(hana, access, "approve")
    access.refresh_from_db()
    assert access.status == "opened"  # not refused as "not a subset of policy"
    port = _last_request(view).virtual_machines[0].ports[0]
    assert timedelta(minutes=55) < port.end_time_utc - access.decided_at < timedelta(minutes=65)


def test_a_policy_removed_while_a_request_waits_leaves_it_approved_with_azures_words(
    person, production_rule, sandbox, view
):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view)
    view.clients.security(view.sub("Contoso Production")).jit_network_access_policies.delete(
        "rg-web", "westeurope", "default"
    )
    decide(hana, access, "approve", "ok")
    access.refresh_from_db()
    item = access.items.get()
    assert access.status == "approved" and item.status == "refused" and item.message
    page = alice.get(f"/access/requests/{access.pk}/").content.decode()
    assert "Approved, not opened" in page and html.escape(item.message) in page


def test_end_now_that_azure_fails_says_so_and_leaves_the_window_open(person, sandbox, view):
    alice = person("alice")
    access = ask(alice, view)
    sandbox.control("POST", "faults", {"operation": "jit.initiate", "kind": "500", "count": 10})
    page = alice.post(f"/access/requests/{access.pk}/end", follow=True).content.decode()
    assert "Azure refused to end some of it" in page
    access.refresh_from_db()
    assert access.ended_at is None
    sandbox.control("DELETE", "faults")
    alice.post("/vms/refresh")
    assert [a.item.request_id for a in alice.get("/access/").context["open"]] == [access.pk]


def test_a_denial_needs_a_comment_opens_nothing_and_the_requester_sees_it(person, production_rule, sandbox, view):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view)
    decide(hana, access, "deny")
    access.refresh_from_db()
    assert access.status == "awaiting"  # a denial without a reason is refused
    decide(hana, access, "deny", "Use the staging VM")
    access.refresh_from_db()
    assert access.status == "denied"
    assert sandbox.control("GET", "stats")["calls"].get("jit.initiate", 0) == 0
    history = alice.get("/access/").context["history"]
    assert [p.state for p in history] == ["Denied"]
    assert "Use the staging VM" in alice.get(f"/access/requests/{access.pk}/").content.decode()


def test_nobody_approves_their_own_request_nor_counts_twice(person, subs, sandbox, view):
    ApprovalRule.objects.create(name="Production", subscription_id=subs["prod"], approvals_needed=2)
    alice = person("alice", ["JIT.Requester", "JIT.Approver"])
    hana = person("hana")
    access = ask(alice, view)
    assert "Your decision" not in alice.get(f"/access/requests/{access.pk}/").content.decode()
    decide(alice, access, "approve")
    decide(hana, access, "approve")
    decide(hana, access, "approve")
    access.refresh_from_db()
    assert access.status == "awaiting"
    assert list(Approval.objects.values_list("approver__upn", flat=True)) == ["hana@contoso.test"]
    assert "Pending approval (1 of 2)" in alice.get(f"/access/requests/{access.pk}/").content.decode()


def test_a_rule_naming_its_approvers_lets_only_them_decide_and_tells_only_them(person, subs, sandbox, view):
    from core.models import Notification

    ApprovalRule.objects.create(
        name="Production", subscription_id=subs["prod"], approvals_needed=1, approvers="Hana@contoso.test\n"
    )
    alice, hana = person("alice"), person("hana")
    bob = person("bob", ["JIT.Admin", "JIT.Approver"])
    access = ask(alice, view)
    [(_, why_not, _)] = bob.get("/access/approvals/").context["waiting"]
    assert why_not == "The rule “Production” names other approvers."
    decide(bob, access, "approve")
    access.refresh_from_db()
    assert access.status == "awaiting" and not Approval.objects.exists()
    told = set(Notification.objects.filter(kind="pending").values_list("address", flat=True))
    assert "hana@contoso.test" in told and "bob@contoso.test" not in told
    decide(hana, access, "approve")
    access.refresh_from_db()
    assert access.status == "opened" and access.opened_by.upn == "hana@contoso.test"


def test_two_approvals_of_three_open_it_and_the_third_finds_it_decided(person, subs, sandbox, view):
    ApprovalRule.objects.create(name="Production", subscription_id=subs["prod"], approvals_needed=2)
    alice, hana = person("alice"), person("hana")
    bob = person("bob", ["JIT.Admin", "JIT.Approver"])
    carol = person("carol", ["JIT.Auditor", "JIT.Approver"])
    access = ask(alice, view)
    decide(hana, access, "approve", "fine")
    access.refresh_from_db()
    assert access.status == "awaiting"
    decide(bob, access, "approve", "fine too")
    access.refresh_from_db()
    assert access.status == "opened" and access.opened_by.upn == "bob@contoso.test"
    assert _last_request(view).justification.endswith("approved by hana@contoso.test, bob@contoso.test")
    late = carol.post(f"/access/requests/{access.pk}/decide", {"decision": "approve"}, follow=True)
    assert "no longer waiting for a decision" in late.content.decode()
    assert Approval.objects.count() == 2


def test_an_approver_azure_refuses_leaves_it_approved_for_another_to_open(person, production_rule, sandbox, view):
    alice, hana = person("alice"), person("hana")
    carol = person("carol", ["JIT.Auditor", "JIT.Approver"])  # Reader only: Azure refuses her initiate
    access = ask(alice, view)
    decide(carol, access, "approve", "ok")
    access.refresh_from_db()
    item = access.items.get()
    assert access.status == "approved" and item.status == "refused"
    assert "initiate/action" in item.message  # Azure's own words
    assert [p.state for p in alice.get("/access/").context["history"]] == ["Approved, not opened"]
    page = hana.get(f"/access/requests/{access.pk}/").content.decode()
    assert "Open with my rights" in page
    hana.post(f"/access/requests/{access.pk}/open")
    access.refresh_from_db()
    assert access.status == "opened" and access.opened_by.upn == "hana@contoso.test"
    assert AuditEvent.objects.filter(action="access.open").count() == 2


def test_a_pending_request_nobody_decides_expires(person, production_rule, sandbox, view):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view)
    AccessRequest.objects.filter(pk=access.pk).update(pending_until=timezone.now() - timedelta(seconds=1))
    answer = decide(hana, access, "approve")
    assert answer.status_code == 302
    access.refresh_from_db()
    assert access.status == "lapsed" and not access.approvals.exists()
    assert [p.state for p in alice.get("/access/").context["history"]] == ["Expired (nobody decided)"]
    assert AuditEvent.objects.filter(action="access.lapse").count() == 1
    assert lapse_due() == 0  # already expired: nothing more to do


def test_the_worker_expires_what_waited_too_long(person, production_rule, view):
    alice = person("alice")
    access = ask(alice, view)
    assert lapse_due(timezone.now() + timedelta(minutes=59)) == 0
    assert lapse_due(timezone.now() + timedelta(minutes=61)) == 1
    access.refresh_from_db()
    assert access.status == "lapsed"


def test_the_requester_cancels_a_waiting_request(person, production_rule, view):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view)
    alice.post(f"/access/requests/{access.pk}/cancel")
    access.refresh_from_db()
    assert access.status == "cancelled"
    assert (
        "no longer waiting"
        in hana.post(f"/access/requests/{access.pk}/decide", {"decision": "approve"}, follow=True).content.decode()
    )


def test_break_glass_opens_at_once_with_a_reason_and_is_flagged(person, production_rule, sandbox, view):
    alice = person("alice")
    data = fill(alice, [view.vm_id("Contoso Production", "rg-web", "web-02")], break_glass="on")
    page = submit(alice, data)
    assert page.status_code == 200 and "Breaking glass needs a reason" in page.content.decode()
    access = ask(alice, view, break_glass="on", break_glass_reason="Production is down, INC-7")
    assert access.status == "opened" and access.break_glass == "Production is down, INC-7"
    assert _last_request(view).requestor == "alice@contoso.test"
    event = AuditEvent.objects.get(action="access.request")
    assert event.details["break_glass"] == "Production is down, INC-7"
    assert "Break glass" in alice.get(f"/access/requests/{access.pk}/").content.decode()


def test_without_a_matching_rule_it_opens_at_once(person, subs, view):
    ApprovalRule.objects.create(
        name="Long windows", subscription_id=subs["prod"], condition=ApprovalRule.LONGER, longer_than_minutes=120
    )
    ApprovalRule.objects.create(name="RDP", condition=ApprovalRule.PORTS, ports="3389")
    alice = person("alice")
    assert ask(alice, view).status == "opened"  # 1 h of SSH: neither rule
    assert ask(alice, view, duration_value="3").status == "awaiting"


def test_extend_replaces_the_open_request_from_now(person, sandbox, view):
    alice = person("alice")
    access = ask(alice, view)
    sandbox.advance("PT30M")
    alice.post("/vms/refresh")
    form = alice.get(f"/access/requests/{access.pk}/extend").context["form"]
    response = alice.post(
        f"/access/requests/{access.pk}/extend",
        {"duration_value": "2", "duration_unit": "hours", "request_key": form["request_key"].value()},
    )
    assert response.status_code == 302
    extension = AccessRequest.objects.latest("id")
    assert extension.extends_id == access.pk and extension.status == "opened"
    requests = view.policies("Contoso Production", "rg-web", "westeurope")[0].requests
    old, new = requests[-2].virtual_machines[0].ports[0], requests[-1].virtual_machines[0].ports[0]
    assert (old.status, old.status_reason) == ("Revoked", "NewerRequestInitiated")
    assert new.status == "Initiated" and new.allowed_source_address_prefix == MY_IP
    alice.post("/vms/refresh")
    mine = alice.get("/access/")
    assert [a.item.request_id for a in mine.context["open"]] == [extension.pk]


def test_an_extension_under_a_rule_waits_unless_the_rule_allows_it(person, production_rule, sandbox, view):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view)
    decide(hana, access, "approve")
    alice.post("/vms/refresh")

    def extend(hours: str) -> AccessRequest:
        form = alice.get(f"/access/requests/{access.pk}/extend").context["form"]
        alice.post(
            f"/access/requests/{access.pk}/extend",
            {"duration_value": hours, "duration_unit": "hours", "request_key": form["request_key"].value()},
        )
        return AccessRequest.objects.latest("id")

    waiting = extend("1")
    assert waiting.status == "awaiting"
    alice.post(f"/access/requests/{waiting.pk}/cancel")
    ApprovalRule.objects.filter(pk=production_rule.pk).update(extension_minutes=60)
    assert extend("1").status == "opened"


def test_end_now_replaces_the_window_with_one_that_reaches_nobody(person, sandbox, view):
    alice = person("alice")
    access = ask(alice, view)
    assert (MY_IP, "22") in view.allow_rules("Contoso Production", "rg-web", "nsg-rg-web-default")
    alice.post(f"/access/requests/{access.pk}/end")
    access.refresh_from_db()
    assert access.ended_by.upn == "alice@contoso.test"
    requests = view.policies("Contoso Production", "rg-web", "westeurope")[0].requests
    old, new = requests[-2].virtual_machines[0].ports[0], requests[-1].virtual_machines[0].ports[0]
    assert (old.status, old.status_reason) == ("Revoked", "NewerRequestInitiated")
    assert new.allowed_source_address_prefix == "192.0.2.1"
    assert new.end_time_utc - sandbox_now(sandbox) <= timedelta(seconds=65)
    assert (MY_IP, "22") not in view.allow_rules("Contoso Production", "rg-web", "nsg-rg-web-default")
    alice.post("/vms/refresh")
    mine = alice.get("/access/")
    assert mine.context["open"] == [] and [p.state for p in mine.context["history"]] == ["Ended early"]
    assert AuditEvent.objects.filter(action="access.end", outcome="ended early").count() == 1
    rows = person("carol").get("/audit/", {"operation": "initiate", "vm": "web-02"}).context["rows"]
    ended, opened = rows[0], rows[1]  # newest first: the end (by Alice, to nobody), then her request
    assert (ended.source, ended.justification) == (
        "192.0.2.1",
        f"Ended early by alice@contoso.test (request {access.pk} of alice@contoso.test)",
    )
    assert opened.fate == "ended early"


def test_an_admin_ends_someone_elses_access_and_a_requester_cannot(person, sandbox, view):
    alice = person("alice")
    access = ask(alice, view)
    dave = person("dave")
    assert dave.post(f"/access/requests/{access.pk}/end").status_code == 404
    bob = person("bob")
    assert [a.pk for a, _ in bob.get("/access/approvals/").context["opened"]] == [access.pk]
    bob.post(f"/access/requests/{access.pk}/end")
    access.refresh_from_db()
    assert access.ended_by.upn == "bob@contoso.test"
    assert _last_request(view).requestor == "bob@contoso.test"


def test_an_admin_manages_rules_and_every_change_is_in_the_trail(person, subs):
    bob = person("bob")
    page = bob.post(
        "/access/rules/new",
        {
            "name": "Production",
            "subscription_id": subs["prod"].upper(),
            "condition": "always",
            "approvals_needed": "4",
            "pending_minutes": "60",
            "extension_minutes": "0",
        },
    )
    assert page.status_code == 200 and not ApprovalRule.objects.exists()  # 4 approvals: refused
    person("hana")  # an approver the portal knows, whom Azure lets open ports on Production
    bob.post(
        "/access/rules/new",
        {
            "name": "Production",
            "subscription_id": subs["prod"].upper(),
            "condition": "always",
            "approvals_needed": "1",
            "pending_minutes": "60",
            "extension_minutes": "0",
        },
    )
    rule = ApprovalRule.objects.get()
    assert rule.subscription_id == subs["prod"].lower()
    bob.post(
        f"/access/rules/{rule.pk}/",
        {
            "name": "Production",
            "subscription_id": subs["prod"],
            "condition": "ports",
            "ports": "22,3389",
            "approvals_needed": "2",
            "pending_minutes": "30",
            "extension_minutes": "0",
        },
    )
    bob.post(f"/access/rules/{rule.pk}/delete")
    assert not ApprovalRule.objects.exists()
    events = list(AuditEvent.objects.filter(action__startswith="rule.").order_by("seq"))
    assert [e.action for e in events] == ["rule.create", "rule.update", "rule.delete"]
    assert events[1].details["before"]["approvals_needed"] == "1" and events[1].details["after"]["ports"] == "22, 3389"


def sandbox_now(sandbox):
    from datetime import datetime

    return datetime.fromisoformat(sandbox.control("GET", "clock")["now"].replace("Z", "+00:00"))


def test_the_demo_rule_is_made_once_and_never_again_after_an_admin_removed_it(subs):
    from jitportal.management.commands.serve import _demo_settings
    from requests_app.actions import ensure_demo_rule

    setting = _demo_settings(
        {
            "subscriptions": [
                {"id": subs["prod"], "name": "Contoso Production"},
                {"id": subs["dev"], "name": "Contoso Development"},
                {"id": subs["shared"], "name": "Contoso Shared Services"},
            ]
        }
    )
    assert setting == {
        "JITPORTAL_DEMO_RULE_SUBSCRIPTION": subs["prod"],
        "JITPORTAL_DEMO_ENFORCED_SUBSCRIPTION": subs["shared"],
    }
    ensure_demo_rule(subs["prod"], subs["shared"])
    ensure_demo_rule(subs["prod"], subs["shared"])
    rules = list(ApprovalRule.objects.order_by("name"))
    assert [(r.name, r.subscription_id, r.approvals_needed) for r in rules] == [
        ("Production", subs["prod"], 1),
        ("Shared services", subs["shared"], 1),
    ]
    ApprovalRule.objects.all().delete()
    ensure_demo_rule(subs["prod"], subs["shared"])
    assert not ApprovalRule.objects.exists()


def test_the_report_and_csv_show_who_approved_when_and_why_and_break_glass(person, production_rule, sandbox, view):
    import csv
    import io

    alice, hana = person("alice"), person("hana")
    access = ask(alice, view, justification="patch openssl")
    decide(hana, access, "approve", "ok, go")
    ask(alice, view, vm=("rg-sql", "sql-02"), break_glass="on", break_glass_reason="INC-7: sql-02 is down")
    carol = person("carol")
    rows: dict = {}
    for r in carol.get("/audit/", {"operation": "initiate"}).context["rows"]:  # newest first
        rows.setdefault((r.event.caller, r.vms), r)
    approved = rows["hana@contoso.test", "web-02"]
    assert approved.justification == "alice@contoso.test: patch openssl — approved by hana@contoso.test"
    assert (approved.approver, approved.comment) == ("hana@contoso.test", "hana@contoso.test: ok, go")
    assert approved.decided is not None and rows["alice@contoso.test", "sql-02"].break_glass == "INC-7: sql-02 is down"
    text = b"".join(carol.get("/audit/report.csv").streaming_content).decode("utf-8-sig")
    lines = list(csv.DictReader(io.StringIO(text)))  # the header is line 1
    line = next(x for x in lines if x["VM"] == "web-02" and x["Event initiated by"] == "hana@contoso.test")
    header = next(csv.reader(io.StringIO(text)))
    assert header.index("Approver") > header.index("Resource") == 10  # after Azure's eleven columns
    every = list(csv.reader(io.StringIO(text)))
    assert {len(cells) for cells in every if cells} == {len(header)}  # requests and policy changes alike
    assert len(lines) > 2
    assert (line["Approver"], line["Decision comment"]) == ("hana@contoso.test", "hana@contoso.test: ok, go")
    assert line["Decision time"].endswith("Z")
    assert next(x for x in lines if x["VM"] == "sql-02")["Break glass"] == "INC-7: sql-02 is down"  # newest first


def test_an_approver_whose_sign_in_expired_is_sent_to_sign_in_and_the_request_waits_to_be_opened(
    person, production_rule, sandbox, view
):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view)
    hana.get(f"/access/requests/{access.pk}/")  # her inventory is read (and kept) before her tokens lapse
    sandbox.advance("P2D")  # past the sandbox's one-day refresh token
    answer = decide(hana, access, "approve", "ok")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/sign-in?")
    access.refresh_from_db()
    assert access.status == "approved" and access.approvals.count() == 1
    assert "sign-in had expired" in access.items.get().message
    sign_in(hana, sandbox, "hana")
    hana.post("/vms/refresh")
    hana.post(f"/access/requests/{access.pk}/open")
    access.refresh_from_db()
    assert access.status == "opened" and access.opened_by.upn == "hana@contoso.test"


def test_a_failure_of_azure_at_opening_leaves_it_approved_for_an_approver_to_try_again(
    person, production_rule, sandbox, view
):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view)
    sandbox.control("POST", "faults", {"operation": "jit.initiate", "kind": "500", "rate": 1})
    decide(hana, access, "approve", "ok")
    access.refresh_from_db()
    assert access.status == "approved" and access.items.get().status == "failed"
    sandbox.control("DELETE", "faults")
    assert "try again with your own Azure rights" in hana.get(f"/access/requests/{access.pk}/").content.decode()
    hana.post(f"/access/requests/{access.pk}/open")
    access.refresh_from_db()
    assert access.status == "opened"


def test_a_request_whose_opening_was_cut_short_is_settled_by_the_worker(person, production_rule, view):
    from requests_app.approvals import settle_stalled

    alice = person("alice")
    access = ask(alice, view)
    # As if a worker died between the last approval and Azure's answer:
    AccessRequest.objects.filter(pk=access.pk).update(
        status="pending", decided_at=timezone.now(), opening_since=timezone.now() - timedelta(hours=1)
    )
    assert settle_stalled() == 1 and settle_stalled() == 0
    access.refresh_from_db()
    assert access.status == "approved" and access.items.get().status == "unknown"
    assert AuditEvent.objects.filter(action="access.stall").count() == 1


def test_an_extension_is_capped_by_the_ports_maximum_and_one_at_a_time(person, production_rule, sandbox, view):
    alice, hana = person("alice"), person("hana")
    access = ask(alice, view)
    decide(hana, access, "approve")
    alice.post("/vms/refresh")
    page = alice.get(f"/access/requests/{access.pk}/extend")
    assert "may wait for an approver" in page.content.decode()

    def extend(hours: str):
        form = alice.get(f"/access/requests/{access.pk}/extend").context["form"]
        return alice.post(
            f"/access/requests/{access.pk}/extend",
            {"duration_value": hours, "duration_unit": "hours", "request_key": form["request_key"].value()},
        )

    too_long = extend("5")
    assert too_long.status_code == 200 and "From 5 min to 3 h" in too_long.content.decode()
    assert extend("3").status_code == 302
    assert AccessRequest.objects.latest("id").duration_minutes == 180
    second = extend("2")
    assert "already waits for approval" in second.content.decode()
    assert AccessRequest.objects.filter(extends=access).count() == 1
    alice.post(f"/access/requests/{access.pk}/end")  # ending it withdraws the extension that waits
    assert AccessRequest.objects.get(extends=access).status == "cancelled"


def test_the_inbox_lists_as_open_only_what_azure_still_has_open(person, sandbox, view):
    alice = person("alice")
    ask(alice, view)  # the first, which the second replaces
    sandbox.advance("PT1M")
    alice.post("/vms/refresh")
    second = ask(alice, view)  # Azure's newer request for web-02:22 replaces the first
    bob = person("bob")
    assert [a.pk for a, _ in bob.get("/access/approvals/").context["opened"]] == [second.pk]


def test_a_rule_is_deleted_only_after_asking_and_ports_are_ascii_numbers(person, subs):
    bob = person("bob")
    rule = ApprovalRule.objects.create(name="Production")
    page = bob.get(f"/access/rules/{rule.pk}/delete")
    assert page.status_code == 200 and "Delete the rule" in page.content.decode()
    assert ApprovalRule.objects.exists()
    for typed in ("²", "٢٢", "99999", "22;DROP", "-1"):
        answer = bob.post(
            "/access/rules/new",
            {
                "name": "x",
                "condition": "ports",
                "ports": typed,
                "approvals_needed": "1",
                "pending_minutes": "60",
                "extension_minutes": "0",
            },
        )
        assert answer.status_code == 200 and "Ports are numbers from 0 to 65535" in answer.content.decode(), typed
    many = ", ".join(str(p) for p in range(10, 76))  # 66 ports
    answer = bob.post(
        "/access/rules/new",
        {
            "name": "x",
            "condition": "ports",
            "ports": many,
            "approvals_needed": "1",
            "pending_minutes": "60",
            "extension_minutes": "0",
        },
    )
    assert "At most 20 ports, not 66." in answer.content.decode()
    negative = bob.post(
        "/access/rules/new",
        {
            "name": "x",
            "condition": "always",
            "approvals_needed": "1",
            "pending_minutes": "-5",
            "extension_minutes": "0",
        },
    )
    assert negative.content.decode().count("From 5 to 10080.") == 1


def test_the_inbox_shows_who_else_asked_for_the_same_vms_lately_in_queries_that_do_not_grow(
    person, production_rule, view
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from requests_app.models import AccessRequestItem

    alice, hana = person("alice"), person("hana")
    access = ask(alice, view, justification="patch openssl")
    web_02, sql_01 = (
        view.vm_id("Contoso Production", "rg-web", "web-02"),
        view.vm_id("Contoso Production", "rg-sql", "sql-01"),
    )

    def earlier(upn: str, vm_id: str, days: float) -> None:
        user = (
            access.user
            if upn == access.user.upn
            else User.objects.get_or_create(
                username=f"t/{upn}", defaults={"upn": upn, "tenant_id": "t", "object_id": upn}
            )[0]
        )
        other = AccessRequest.objects.create(
            user=user,
            justification="",
            source_prefix=MY_IP,
            duration_minutes=60,
            idempotency_key=f"{upn}{days}",
            status=RequestStatus.OPENED,
        )
        AccessRequest.objects.filter(pk=other.pk).update(created=timezone.now() - timedelta(days=days))
        AccessRequestItem.objects.create(
            request=other,
            vm_id=vm_id,
            vm_name=vm_id.rsplit("/", 1)[-1],
            policy_id="p",
            port=22,
            end=timezone.now(),
            minutes=60,
        )

    earlier("carol@contoso.test", web_02, 2)
    earlier("dave@contoso.test", web_02, 1)
    earlier("dave@contoso.test", web_02, 3)  # the same person again: one line, the newest
    earlier("erin@contoso.test", web_02, 10)  # more than a week ago
    earlier("frank@contoso.test", sql_01, 1)  # another VM
    earlier(access.user.upn, web_02, 1)  # the requester's own: on their My access

    def inbox():
        with CaptureQueriesContext(connection) as queries:
            page = hana.get("/access/approvals/")
        return page.context["waiting"], len(queries)

    inbox()  # the first view also remembers Hana's read scope
    waiting, one = inbox()
    [(_, _, others)] = waiting
    assert [o.user.upn for o in others] == ["dave@contoso.test", "carol@contoso.test"]
    ask(alice, view, vm=("rg-web", "web-01"))
    ask(alice, view, vm=("rg-sql", "sql-01"))
    waiting, three = inbox()
    assert len(waiting) == 3 and three == one
    assert [o.user.upn for a, _, others in waiting for o in others if a.items.all()[0].vm_name == "sql-01"] == [
        "frank@contoso.test"
    ]


def test_the_inbox_says_plainly_when_nobody_else_asked_for_the_vms(person, production_rule, view):
    alice, hana = person("alice"), person("hana")
    ask(alice, view)
    page = hana.get("/access/approvals/").content.decode()
    assert "Others who asked for these VMs (7 days)" in page
    assert "No one else asked for these VMs in the last 7 days" in page
