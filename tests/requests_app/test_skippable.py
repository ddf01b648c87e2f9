"""Approvals that cannot be skipped (#22) and rules that are checked when saved (#23), through the real MSAL
and SDK clients against the sandbox, whose role assignments are the ones it enforces."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.models import AccessRequest, ApprovalRule
from sandbox import demo
from tests.conftest import fill
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

RULE = {"condition": "always", "approvals_needed": "1", "pending_minutes": "60", "extension_minutes": "0"}


def _card(page, name: str, markup: bool = False) -> str:
    """One rule's section on the rules page: its words (or its markup)."""
    text = html.unescape(page.content.decode())
    start = text.index(f'<h2 id="rule-{ApprovalRule.objects.get(name=name).pk}"')
    found = text[start : text.index("</section>", start)]
    return found if markup else re.sub(r"<[^>]+>", "", found)


def test_alice_opens_production_from_azure_directly_and_the_portal_flags_the_rule(
    person, production_rule, clients_for, subs, view
):
    """The reproduction: Alice holds JIT VM Access Requester on Production, where the rule needs one approval;
    a direct ARM call (what PowerShell's Start-AzJitNetworkAccessPolicy sends) opens the port with none."""
    alice, _ = person("alice"), person("hana")  # both known to the portal (they have signed in)
    vm = view.vm_id("Contoso Production", "rg-web", "web-02")
    end = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = (
        clients_for("alice")
        .security(subs["prod"])
        .jit_network_access_policies.initiate(
            "rg-web",
            "westeurope",
            "default",
            {
                "virtual_machines": [
                    {
                        "id": vm,
                        "ports": [{"number": 22, "end_time_utc": end, "allowed_source_address_prefix": "203.0.113.7"}],
                    }
                ]
            },
        )
    )
    assert answer.virtual_machines[0].ports[0].status == "Initiating"  # accepted, and no approval was asked
    assert not AccessRequest.objects.exists()

    card = _card(person("bob").get("/access/rules/"), "Production")
    assert "Can be skipped" in card and "Enforced" not in card
    assert "Alice Archer (alice@contoso.test) — can open ports without approval" in card
    # Said once, naming who (the card also said "Not enforced: Azure lets 1 principal … without approval: Alice…").
    assert card.count("without approval") == 1 and card.count("Alice Archer") == 1
    assert "JIT VM Access Requester on Contoso Production" in card
    assert "Hana Hill (hana@contoso.test) — an approver of this rule" in card
    assert "Bob Brennan (bob@contoso.test) — a JIT administrator" in card
    assert "Can decide in Azure: Hana Hill" in card

    form = html.unescape(alice.get("/access/new", {"vm": vm}).content.decode())
    note = form[form.index('id="approval-note"') : form.index("</div>", form.index('id="approval-note"'))]
    # Once, to her (it said "Azure also lets you open these ports directly, without approval…", then "Not enforced:
    # Azure lets 1 principal open these ports without approval: Alice Archer").
    assert note.count("without approval") == 1 and "Alice Archer" not in note
    assert (
        "Not enforced: Azure lets you open these ports directly, without approval: this approval is the "
        "portal's, not Azure's" in note
    )


def test_make_serves_demo_names_the_people_who_can_decide_before_they_have_signed_in(
    person, production_rule, sandbox, view
):
    """A fresh `make serve`, Alice first: her form on Production named Hana and Bob by bare object id ("Azure lets
    you and object id 4a4a…, object id b0b0… open these ports") and said nobody could decide on rg-web, since the
    portal knew neither yet. The demo's people are known from the start, as README's demo says."""
    from accounts.actions import ensure_demo_people
    from jitportal.management.commands.serve import _demo_settings

    ensure_demo_people(json.loads(_demo_settings(sandbox.control("GET", "info"))["JITPORTAL_DEMO_PEOPLE"]))
    alice = person("alice")
    form = html.unescape(
        alice.get("/access/new", {"vm": view.vm_id("Contoso Production", "rg-web", "web-02")}).content.decode()
    )
    note = re.sub(
        r"\s+", " ", form[form.index('id="approval-note"') : form.index("</div>", form.index('id="approval-note"'))]
    )
    assert "object id" not in note and "Nobody can decide" not in note
    assert "Not enforced: Azure lets you open these ports directly" in note


def test_a_rule_only_approvers_and_administrators_can_act_under_is_enforced_and_groups_are_named_as_groups(
    person, subs
):
    person("hana")
    ApprovalRule.objects.create(name="Shared", subscription_id=subs["shared"], approvals_needed=1)
    ApprovalRule.objects.create(name="Development", subscription_id=subs["dev"], approvals_needed=1)
    page = person("bob").get("/access/rules/")
    shared, development = _card(page, "Shared"), _card(page, "Development")
    assert "Enforced" in shared and "can open ports without approval" not in shared
    assert "Can be skipped" in development
    assert f"group {demo.GROUPS[0].object_id} — can open ports without approval" in development, development


def test_frank_jit_admin_but_reader_in_azure_can_no_longer_delete_the_production_rule(person, production_rule):
    frank = person("frank")
    page = frank.get("/access/rules/")
    card = _card(page, "Production")
    assert (
        "Read-only for you. Azure does not give you Microsoft.Security/locations/jitNetworkAccessPolicies/write "
        "on Contoso Production" in card
    )
    assert f"/access/rules/{production_rule.pk}/delete" not in _card(page, "Production", markup=True)
    for answer in (
        frank.get(f"/access/rules/{production_rule.pk}/delete"),
        frank.post(f"/access/rules/{production_rule.pk}/delete"),
        frank.post(f"/access/rules/{production_rule.pk}/", {"name": "gone", **RULE}),
    ):
        assert answer.status_code == 302 and answer["Location"] == "/access/rules/"
    production_rule.refresh_from_db()
    assert production_rule.name == "Production"
    assert not AuditEvent.objects.filter(action__startswith="rule.").exists()
    # Nor can he make a rule anywhere: he may write JIT policies nowhere, so the page offers him no "New rule".
    assert "/access/rules/new" not in page.content.decode()
    assert (
        "Read-only for you. Azure gives you Microsoft.Security/locations/jitNetworkAccessPolicies/write on none of "
        "the subscriptions and resource groups you see"
    ) in html.unescape(page.content.decode())
    made = frank.post("/access/rules/new", {"name": "Mine", "subscription_id": production_rule.subscription_id, **RULE})
    assert made.status_code == 200 and ApprovalRule.objects.count() == 1
    assert "managing an approval rule there takes the right to write its JIT policies" in html.unescape(
        made.content.decode()
    )
    bob = person("bob")
    assert 'href="/access/rules/new"' in bob.get("/access/rules/").content.decode()
    assert bob.post(f"/access/rules/{production_rule.pk}/delete").status_code == 302
    assert not ApprovalRule.objects.exists()


def test_a_rule_is_checked_when_saved(person, subs):
    """#23's reproduction: a resource group that does not exist, an approver who does not exist, an approver
    with no Azure rights at the rule's scope; and when nobody could decide, the form says so."""
    bob, _, _ = person("bob"), person("hana"), person("carol")
    typo = bob.post(
        "/access/rules/new", {"name": "Dev", "subscription_id": subs["dev"], "resource_group": "rg-dve", **RULE}
    )
    assert "Azure shows you no resource group “rg-dve” in Contoso Development." in typo.content.decode()
    unknown = bob.post(
        "/access/rules/new",
        {
            "name": "Dev",
            "subscription_id": subs["dev"],
            "resource_group": "rg-dev",
            "approvers": "nobody@contoso.test\nhana@contoso.test\ncarol@contoso.test",
            **RULE,
        },
    )
    text = html.unescape(unknown.content.decode())
    assert "nobody@contoso.test has never signed in to the portal" in text
    assert "carol@contoso.test does not hold the app role JIT.Approver" in text
    assert "Azure does not let hana@contoso.test open ports in Contoso Development / rg-dev" in text
    assert "Nobody could decide: no approver this rule trusts may open ports in Contoso Development / rg-dev" in text
    assert not ApprovalRule.objects.exists()
    anyway = bob.post(
        "/access/rules/new",
        {
            "name": "Dev",
            "subscription_id": subs["dev"],
            "resource_group": "rg-dev",
            "approvers": "hana@contoso.test",
            "save_anyway": "on",
            **RULE,
        },
    )
    assert anyway.status_code == 302
    event = AuditEvent.objects.get(action="rule.create")
    assert any("Nobody could decide" in p for p in event.details["saved_despite"])
    fine = bob.post(
        "/access/rules/new",
        {
            "name": "Prod",
            "subscription_id": subs["prod"],
            "resource_group": "rg-web",
            "approvers": "hana@contoso.test",
            **RULE,
        },
    )
    assert fine.status_code == 302 and ApprovalRule.objects.get(name="Prod").resource_group == "rg-web"


def test_a_requester_is_told_when_nobody_can_decide(person, subs, view, sandbox):
    person("hana")
    ApprovalRule.objects.create(
        name="Dev", subscription_id=subs["dev"], approvals_needed=1, approvers="hana@contoso.test"
    )  # saved before the portal checked rules
    alice = person("alice")
    vm = view.vm_id("Contoso Development", "rg-dev", "dev-01")
    page = html.unescape(alice.get("/access/new", {"vm": vm}).content.decode())
    assert "Nobody can decide on rg-dev under this rule" in page
    sent = alice.post("/access/new", fill(alice, [vm]), REMOTE_ADDR="203.0.113.50")
    assert sent.status_code == 302
    detail = html.unescape(alice.get(sent["Location"]).content.decode())
    assert "Nobody can decide on this request for rg-dev" in detail


def test_people_see_only_rules_within_their_read_scope_and_rule_events_carry_the_scope(person, subs):
    bob, hana = person("bob"), person("hana")
    ApprovalRule.objects.create(name="Everywhere", approvals_needed=1)
    ApprovalRule.objects.create(name="Development", subscription_id=subs["dev"], approvals_needed=1)
    page = hana.get("/access/rules/")  # Reader on Production and Shared services only
    names = [c.rule.name for c, _, _ in page.context["rules"]]
    assert names == ["Everywhere"] and page.context["hidden"] == 1
    assert "1 rule about scopes outside what Azure lets you read is not shown" in page.content.decode()
    bob.post("/access/rules/new", {"name": "Shared", "subscription_id": subs["shared"], **RULE})
    event = AuditEvent.objects.get(action="rule.create")
    assert f"/subscriptions/{subs['shared']}/resourceGroups/rg-monitor" in event.target
    grace, carol = person("grace"), person("carol")  # Grace reads rg-shared of Shared services, not rg-monitor
    assert event.target not in html.unescape(grace.get("/audit/trail").content.decode())
    assert event.target in html.unescape(carol.get("/audit/trail").content.decode())


def test_the_rules_page_reads_two_lists_per_subscription_whatever_the_number_of_rules(person, subs, sandbox):
    bob, _ = person("bob"), person("hana")
    ApprovalRule.objects.create(name="Production", subscription_id=subs["prod"], approvals_needed=1)
    bob.get("/access/rules/")  # the inventory, read once
    for rg in ("rg-web", "rg-sql", "rg-legacy", "rg-classic"):
        ApprovalRule.objects.create(
            name=f"Production {rg}", subscription_id=subs["prod"], resource_group=rg, approvals_needed=1
        )
    ApprovalRule.objects.create(name="Everywhere", approvals_needed=2)
    from django.core.cache import cache

    cache.clear()  # what the first view kept (user ids are not 1, 2, 3… on PostgreSQL, whose sequences run on)
    sandbox.control("POST", "stats")
    page = bob.get("/access/rules/")
    assert len(page.context["rules"]) == 6
    calls = sandbox.control("GET", "stats")["calls"]
    # Every subscription Bob sees (the rule on every subscription covers them): two reads each, not one per rule.
    assert calls.get("roleAssignments.listForSubscription") == len(subs)
    assert calls.get("roleDefinitions.list") == len(subs)


# Per demo person: may they see the rules page, and may they change the Production rule (portal role, then Azure)?
WHO_MAY = {
    "alice": (403, False),
    "bob": (200, True),
    "carol": (403, False),
    "dave": (403, False),
    "erin": (403, False),
    "frank": (200, False),
    "grace": (403, False),
    "hana": (200, False),
}


@pytest.mark.parametrize("key", sorted(WHO_MAY))
def test_who_sees_the_rules_and_who_may_change_them(person, production_rule, key):
    client = person(key)
    page_status, may_change = WHO_MAY[key]
    assert client.get("/access/rules/").status_code == page_status
    answer = client.post(f"/access/rules/{production_rule.pk}/delete")
    assert ApprovalRule.objects.filter(pk=production_rule.pk).exists() is not may_change
    assert answer.status_code == (302 if page_status == 200 and key != "hana" else 403)
