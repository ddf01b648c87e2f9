"""Partial approvals (issue 23): a rule that needs approval only for port 3389 holds sql-02:3389 and nothing else
of the same form; web-02:22 and web-03:22 open at once, sent as a request of their own, and the form and both
pages say so. Through the real SDK and MSAL against the sandbox."""

from __future__ import annotations

import pytest

from requests_app.models import AccessRequest, ApprovalRule
from tests.azure_view import AzureView
from tests.conftest import submit
from tests.requests_app.conftest import decide
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

WANTED = {("web-02", 22), ("web-03", 22), ("sql-02", 3389)}


def _form(alice, view: AzureView) -> tuple[dict, str]:
    ids = [
        view.vm_id("Contoso Production", rg, vm)
        for rg, vm in (("rg-web", "web-02"), ("rg-web", "web-03"), ("rg-sql", "sql-02"))
    ]
    page = alice.get("/access/new", {"vm": ids})
    form = page.context["form"]
    data = {
        "vm": ids,
        "request_key": form["request_key"].value(),
        "source": "my-ip",
        "duration_value": "1",
        "duration_unit": "hours",
        "justification": "patching the web tier and its database",
        **{c.field_name: "on" for c in form.choices if (c.row.name, c.port.number) in WANTED},
    }
    return data, page.content.decode()


def _open(view: AzureView, rg: str, location: str) -> set[tuple[str, int]]:
    return {
        (vm.id.rsplit("/", 1)[-1], port.number)
        for policy in view.policies("Contoso Production", rg, location)
        for request in policy.requests
        for vm in request.virtual_machines
        for port in vm.ports
        if port.status == "Initiated" and "patching" in (request.justification or "")
    }


def test_a_rule_for_one_port_holds_that_port_alone_and_the_rest_opens_at_once(person, subs, view):
    ApprovalRule.objects.create(
        name="RDP needs a second pair of eyes",
        subscription_id=subs["prod"],
        condition=ApprovalRule.PORTS,
        ports="3389",
        approvals_needed=1,
    )
    alice = person("alice")
    data, form = _form(alice, view)
    assert "Only the ports a rule covers wait" in form and "sql-02 port 3389" in form  # said before sending
    assert "web-02 port 22" not in form.split("whatever the window:")[1].split("</p>")[0]
    response = submit(alice, data)
    assert response.status_code == 302
    assert AccessRequest.objects.count() == 2, "one form, two requests: one opens now, one waits"
    opened, waiting = AccessRequest.objects.order_by("-id")[0], AccessRequest.objects.order_by("-id")[1]
    assert response["Location"] == f"/access/requests/{opened.pk}/"
    assert opened.status == "opened" and sorted((i.vm_name, i.port) for i in opened.items.all()) == [
        ("web-02", 22),
        ("web-03", 22),
    ]
    assert waiting.status == "awaiting" and [(i.vm_name, i.port) for i in waiting.items.all()] == [("sql-02", 3389)]
    assert waiting.together_with_id == opened.pk and waiting.rule_name == "RDP needs a second pair of eyes"
    assert _open(view, "rg-web", "westeurope") == {("web-02", 22), ("web-03", 22)}
    assert _open(view, "rg-sql", "northeurope") == set()
    page = alice.get(f"/access/requests/{opened.pk}/").content.decode()
    assert "sql-02 port 3389 wait for approval under the rule" in page
    assert "Sent in one form with" in alice.get(f"/access/requests/{waiting.pk}/").content.decode()
    assert sorted(e.outcome for e in AuditEvent.objects.filter(action="access.request")) == [
        "opened",
        "pending approval",
    ]
    assert submit(alice, data).status_code == 302 and AccessRequest.objects.count() == 2  # a double submit: nothing new

    hana = person("hana")
    assert [a.pk for a, _, _ in hana.get("/access/approvals/").context["waiting"]] == [waiting.pk]
    decide(hana, waiting, "approve")
    waiting.refresh_from_db()
    assert waiting.status == "opened"
    assert _open(view, "rg-sql", "northeurope") == {("sql-02", 3389)}


def test_break_glass_or_a_rule_covering_every_port_keeps_one_request(person, subs, view):
    ApprovalRule.objects.create(
        name="RDP", subscription_id=subs["prod"], condition=ApprovalRule.PORTS, ports="3389, 22", approvals_needed=1
    )
    alice = person("alice")
    data, _ = _form(alice, view)
    submit(alice, data)
    [access] = AccessRequest.objects.all()
    assert access.status == "awaiting" and access.items.count() == 3
