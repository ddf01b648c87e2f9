"""JIT you can verify: each state in the demo, each reproduction in issue #22, the fixes, and who may see what.

Through the real MSAL and azure-mgmt-network clients against the sandbox; nothing of the SDK is mocked."""

from __future__ import annotations

import csv
import io

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network.models import SecurityRule
from django.test import Client

from tests.conftest import PORTAL_HOST, sign_in
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def person(sandbox, key: str) -> Client:
    client = Client(HTTP_HOST=PORTAL_HOST)
    sign_in(client, sandbox, key)
    return client


def health_of(client, name: str):
    return next(r for r in client.get("/vms/").context["inventory"].rows if r.name == name).health


def nsg_id(view, sub: str, rg: str, name: str) -> str:
    return (
        f"/subscriptions/{view.sub(sub)}/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityGroups/{name}"
    )


@pytest.mark.parametrize(
    ("vm", "state", "severity", "words"),
    [
        ("web-02", "protected", "", "JIT's deny rule is in force"),
        ("web-01", "open", "", "open by JIT for alice@contoso.test until"),
        ("sql-02", "bypassed", "critical", "allow-ssh, priority 290, from Internet, on sql-02-nsg (NIC)"),
        ("dev-03", "bypassed", "narrow", "allowed from 198.51.100.0/28 by allow-ssh-office"),
        ("dev-02", "missing", "", "open to the virtual network (AllowVnetInBound)"),
        ("dev-01", "leftover", "", "still allows it after its request ended"),
        ("dev-06", "exposed", "critical", "open to the Internet: allow-ssh-anywhere, priority 320, from Any"),
        ("jump-01", "unknown", "", "through Azure Firewall afw-rg-jump"),
        ("build-01", "closed", "", ""),
    ],
)
def test_the_demo_shows_every_state(bob, vm, state, severity, words):
    health = health_of(bob, vm)
    assert (health.state, health.severity) == (state, severity)
    assert words in health.summary or words in " ".join(p.detail for p in health.ports)


def test_an_nsg_outside_the_persons_read_scope_is_unknown_with_the_missing_right(signed_in):
    grace = signed_in("grace")
    health = health_of(grace, "ad-03")
    assert health.state == "unknown"
    assert "Azure did not show NSG ad-03-nsg in rg-network" in health.summary
    assert "Microsoft.Network/networkSecurityGroups/read" in health.summary


def test_an_nsg_list_azure_refuses_is_unknown_with_its_words(bob, sandbox, subs, settings):
    # The ARM lists' path: through Resource Graph the NSGs come with the VMs, in one query (test_graph_fleet.py).
    settings.FLEET_SOURCE = "arm"
    sandbox.control(
        "POST",
        "faults",
        {"operation": "nsgs.list", "kind": "503", "count": 20, "retry_after": 0, "path_contains": subs["dev"]},
    )
    # The VM's page waits for a subscription whose retries make it late, as the tabs do not.
    health = bob.get(f"/vms/{subs['dev']}/rg-dev/dev-01/").context["vm"].health
    assert health.state == "unknown" and "Azure would not list the network security groups" in health.summary
    assert health_of(bob, "web-02").state == "protected"  # the other subscriptions are judged


def test_an_older_allow_rule_bypasses_jit_as_microsoft_documents(bob, view, clients_for):
    """ "If other rules already exist for the selected ports, then those existing rules take priority over the new
    'deny all inbound traffic' rules" (just-in-time-access-overview.md): written through the real SDK."""
    network = clients_for("bob").network(view.sub("Contoso Production"))
    poller = network.security_rules.begin_create_or_update(
        "rg-sql",
        "sql-01-nsg",
        "allow-rdp",
        SecurityRule(
            protocol="Tcp",
            source_address_prefix="Internet",
            source_port_range="*",
            destination_address_prefix="*",
            destination_port_range="3389",
            access="Allow",
            priority=250,
            direction="Inbound",
        ),
    )
    assert poller.result().provisioning_state == "Succeeded"
    port = next(p for p in health_of(bob, "sql-01").ports if p.port == 3389)
    assert (port.state, port.severity) == ("bypassed", "critical")  # over Bob's open request, too
    assert port.detail == "allow-rdp, priority 250, from Internet, on sql-01-nsg (NIC)"


def test_the_sandbox_refuses_a_rule_whose_priority_another_holds(view, clients_for):
    network = clients_for("bob").network(view.sub("Contoso Production"))
    with pytest.raises(HttpResponseError, match="SecurityRuleConflict"):
        network.security_rules.begin_create_or_update(
            "rg-sql",
            "sql-01-nsg",
            "clash",
            SecurityRule(
                protocol="*",
                source_address_prefix="*",
                destination_address_prefix="*",
                destination_port_range="22",
                source_port_range="*",
                access="Allow",
                priority=300,
                direction="Inbound",
            ),
        ).result()


def test_a_redeploy_wipes_the_deny_rule_and_restore_brings_it_back(bob, sandbox, view):
    """Infrastructure-as-code redeploys drop JIT's rules (MicrosoftDocs/azure-docs#122814)."""
    assert health_of(bob, "web-02").state == "protected"
    dropped = sandbox.control("POST", "nsgs/redeploy", {"nsg": "nsg-rg-web-default"})["dropped"]
    assert dropped >= 4  # the group's four deny rules and web-01's open allow rule
    bob.post("/vms/refresh")
    assert [p.state for p in health_of(bob, "web-02").ports] == ["missing"] * 4
    url = f"/vms/{view.sub('Contoso Production')}/rg-web/web-02/health/restore"
    assert b"Restore JIT's rules on web-02?" in bob.get(url).content  # one confirmation first
    page = bob.post(url)
    assert page.context["done"].ok, page.context["done"].message
    assert "JIT's deny rule is back on every port" in page.context["done"].message
    assert health_of(bob, "web-02").state == "protected"
    event = AuditEvent.objects.get(action="jit.restore")
    assert event.outcome == "succeeded" and event.details["deny_rule_back"] is True
    assert event.details["before"]["22"].startswith("Deny rule missing") and event.details["after"]["22"] == (
        "Protected: JIT's deny rule is in force"
    )


def test_delete_this_rule_is_offered_only_where_azure_allows_and_keeps_the_rule_whole(signed_in, view):
    bob = signed_in("bob")  # Network Contributor on Production only
    url = f"/vms/{view.sub('Contoso Production')}/rg-sql/sql-02/"
    rule_id = nsg_id(view, "Contoso Production", "rg-sql", "sql-02-nsg") + "/securityRules/allow-ssh"
    page = bob.get(url)
    assert b"Delete this rule" in page.content and b"az network nsg rule delete" in page.content
    dev = bob.get(f"/vms/{view.sub('Contoso Development')}/rg-dev/dev-03/")
    assert b"allow-ssh-office" in dev.content and b"Delete this rule" not in dev.content  # no right on Development
    confirm = bob.get(f"{url}health/delete-rule", {"rule": rule_id})
    assert confirm.status_code == 200 and b"Delete rule allow-ssh from sql-02-nsg?" in confirm.content
    done = bob.post(f"{url}health/delete-rule", {"rule": rule_id}).context["done"]
    assert done.ok, done.message
    event = AuditEvent.objects.get(action="nsg.rule.delete")
    assert event.details["rule"]["properties"]["sourceAddressPrefix"] == "Internet"
    assert event.details["rule"]["properties"]["priority"] == 290 and event.target == rule_id
    assert health_of(bob, "sql-02").state == "protected"


def test_an_admin_azure_does_not_allow_gets_no_delete_and_a_refusal(signed_in, view):
    frank = signed_in("frank")  # JIT.Admin, Reader in Azure
    url = f"/vms/{view.sub('Contoso Production')}/rg-sql/sql-02/"
    rule_id = nsg_id(view, "Contoso Production", "rg-sql", "sql-02-nsg") + "/securityRules/allow-ssh"
    assert b"Delete this rule" not in frank.get(url).content
    assert frank.post(f"{url}health/delete-rule", {"rule": rule_id}).status_code == 403
    assert not AuditEvent.objects.filter(action="nsg.rule.delete").exists()
    assert b"Restore JIT" not in frank.get(url).content


def test_a_requester_cannot_restore_or_delete(alice, view):
    url = f"/vms/{view.sub('Contoso Production')}/rg-sql/sql-02/health/"
    assert alice.post(url + "restore").status_code == 403
    assert alice.post(url + "delete-rule", {"rule": "x"}).status_code == 403


def test_the_request_form_says_when_the_port_is_already_open(alice, view):
    page = alice.get("/access/new", {"vm": view.vm_id("Contoso Production", "rg-sql", "sql-02")})
    assert (
        "Port 22 of sql-02 is already open to the Internet by rule allow-ssh (priority 290, on sql-02-nsg): "
        "JIT does not protect it."
    ) in page.content.decode()


def test_the_tabs_show_and_filter_by_health(bob):
    page = bob.get("/vms/", {"tab": "configured", "health": "bypassed"})
    assert sorted(r.name for r in page.context["table"].data) == ["dev-03", "sql-02"]
    assert b'class="health bypassed"' in page.content
    exposed = bob.get("/vms/", {"tab": "not-configured", "health": "exposed"})
    assert [r.name for r in exposed.context["table"].data] == ["dev-06"]


def test_the_health_page_counts_filters_and_downloads(bob):
    page = bob.get("/audit/health")
    counts = {state: n for state, _, n in page.context["counts"]}
    assert all(counts[s] >= 1 for s in ("bypassed", "missing", "exposed", "leftover", "unknown", "open", "protected"))
    bypassed = bob.get("/audit/health", {"state": "bypassed", "severity": "critical"})
    assert [(line.row.name, line.port.port) for line in bypassed.context["page"]] == [("sql-02", 22)]
    response = bob.get("/audit/health.csv", {"state": "bypassed"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:6] == ["Subscription", "Resource group", "VM", "JIT", "Port", "State"]
    assert {(r[2], r[5], r[6], r[8]) for r in rows[1:]} == {
        ("sql-02", "Bypassed", "critical", "allow-ssh"),
        ("dev-03", "Bypassed", "narrow", "allow-ssh-office"),
    }
    assert AuditEvent.objects.filter(action="health.csv").exists()


def test_every_state_is_in_the_csv(bob):
    response = bob.get("/audit/health.csv")
    states = {r[5] for r in list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))[1:]}
    assert states >= {
        "Protected",
        "Open now by JIT",
        "Bypassed",
        "Deny rule missing",
        "Left-over allow",
        "Exposed, no JIT",
        "Unknown",
    }


@pytest.mark.parametrize(
    ("person", "status"), [("alice", 403), ("dave", 403), ("erin", 403), ("carol", 200), ("grace", 200), ("frank", 200)]
)
def test_the_health_page_is_for_auditors_and_admins(portal, sandbox, person, status):
    sign_in(portal, sandbox, person)
    assert portal.get("/audit/health").status_code == status
    assert portal.get("/audit/health.csv").status_code == status


def test_the_health_page_shows_only_rows_in_the_persons_read_scope(signed_in):
    grace = signed_in("grace")
    names = {line.row.name for line in grace.get("/audit/health").context["page"].paginator.object_list}
    assert "ad-03" in names and "mon-01" not in names and "old-01" not in names  # rg-monitor, Legacy: not hers


def test_an_admins_read_opens_exposure_windows_once_and_tells_the_admins_who_see_the_vm(db, sandbox, view):
    from core.models import Notification
    from vms.models import Exposure

    carol = person(sandbox, "carol").get("/vms/")  # an auditor: her reads keep no windows, and she is told nothing
    assert carol.status_code == 200 and not Exposure.objects.exists()
    bob = person(sandbox, "bob")
    bob.get("/vms/")
    found = {(e.vm_name, e.port, e.state) for e in Exposure.objects.filter(ended=None)}
    assert {
        ("sql-02", 22, "bypassed"),
        ("dev-03", 22, "bypassed"),
        ("dev-02", 22, "missing"),
        ("dev-01", 22, "leftover"),
        ("dev-06", 22, "exposed"),
    } <= found
    told = Notification.objects.filter(kind="exposure", channel="email")
    assert (
        told.filter(recipient_user__upn="bob@contoso.test", subject__startswith="sql-02: port 22 bypassed").count() == 1
    )
    assert not told.filter(recipient_user__upn="carol@contoso.test").exists()
    bob.post("/vms/refresh")
    bob.get("/vms/")  # read again: nothing new, nobody told twice
    assert Exposure.objects.count() == len(found) and told.count() == len(told)
    # Fixed in Azure behind the portal's back: the window ends, and the admins hear of it once.
    network = view.clients.network(view.sub("Contoso Production"))
    network.security_rules.begin_delete("rg-sql", "sql-02-nsg", "allow-ssh").result()
    sandbox.control("POST", "clock", {"advance": "PT1H"})
    bob.post("/vms/refresh")
    bob.get("/vms/")
    window = Exposure.objects.get(vm_name="sql-02", port=22)
    assert window.ended is not None and (window.ended - window.started).total_seconds() >= 3600
    assert (
        Notification.objects.filter(
            kind="exposure_ended", recipient_user__upn="bob@contoso.test", subject="sql-02: port 22 no longer bypassed"
        ).count()
        == 1
    )


def test_the_auditors_report_shows_exposure_windows_in_their_scope(db, sandbox):
    person(sandbox, "bob").get("/vms/")
    grace = person(sandbox, "grace")
    page = grace.get("/audit/exposures")
    shown = {e.vm_name for e in page.context["exposures"]}
    assert {"sql-02", "dev-06"} <= shown
    assert b"allow-ssh, priority 290, from Internet" in page.content
    assert b'href="/audit/exposures"' in grace.get("/audit/").content
    assert person(sandbox, "alice").get("/audit/exposures").status_code == 403


def test_the_worker_scans_as_the_read_only_app_identity(sandbox, settings):
    from jitportal.tasks import housekeeping
    from vms.models import Exposure

    housekeeping.call()  # no identity configured: no scan, nothing fails
    assert not Exposure.objects.exists()
    reader = next(a for a in sandbox.info()["apps"] if a["display_name"] == "jitportal audit reader")
    settings.AUDIT_READER_CLIENT_ID, settings.AUDIT_READER_CLIENT_SECRET = reader["client_id"], reader["client_secret"]
    housekeeping.call()
    assert Exposure.objects.filter(vm_name="sql-02", state="bypassed", ended=None).exists()


def test_restore_says_the_exact_rule_to_re_create_where_azure_does_not_write_it_back(bob, sandbox, view, clients_for):
    """An NSG kept to its template (a reconciling pipeline, an Azure Policy denying undeclared rules): re-applying the
    policy leaves JIT's deny rule out. The page names the rule whole and its `az` command; created as it says, through
    the real SDK, it protects the VM."""
    sandbox.control("POST", "nsgs/redeploy", {"nsg": "nsg-rg-web-default", "reconcile": True})
    bob.post("/vms/refresh")
    url = f"/vms/{view.sub('Contoso Production')}/rg-web/web-02/health/restore"
    page = bob.post(url)
    done = page.context["done"]
    assert not done.ok and "Azure did not write JIT's deny rule back for ports 22, 3389, 5985, 5986" in done.message
    rule = done.recreate
    assert (rule.ref.nsg, rule.ref.resource_group, rule.direction, rule.access, rule.source) == (
        "nsg-rg-web-default",
        "rg-web",
        "Inbound",
        "Deny",
        "*",
    )
    assert rule.ports == (22, 3389, 5985, 5986) and rule.destination == done.after.private_ip
    assert rule.ref.name == "SecurityCenter-JITRule_portal_web-02" and 3097 <= rule.priority <= 4096
    text = page.content.decode()
    for words in (
        rule.ref.name,
        "nsg-rg-web-default",
        f"<dd>{rule.priority}</dd>",
        "<dd>Inbound</dd>",
        "<dd>22, 3389, 5985, 5986</dd>",
        "<dd>Any (*)</dd>",
        "az network nsg rule create",
    ):
        assert words in text, words
    assert (
        f"--nsg-name nsg-rg-web-default --name {rule.ref.name} --priority {rule.priority} --direction Inbound "
        f"--access Deny"
    ) in rule.command
    event = AuditEvent.objects.get(action="jit.restore")
    assert event.details["deny_rule_back"] is False and event.details["recreate"] == rule.words
    # The VM's page offers the same rule.
    assert rule.command.replace("'", "&#x27;") in bob.get(url.removesuffix("health/restore")).content.decode()
    network = clients_for("bob").network(view.sub("Contoso Production"))
    network.security_rules.begin_create_or_update(
        "rg-web",
        rule.ref.nsg,
        rule.ref.name,
        SecurityRule(
            protocol="*",
            source_address_prefix=rule.source,
            source_port_range="*",
            destination_address_prefix=rule.destination,
            destination_port_ranges=[str(p) for p in rule.ports],
            access=rule.access,
            priority=rule.priority,
            direction=rule.direction,
        ),
    ).result()
    bob.post("/vms/refresh")
    assert health_of(bob, "web-02").state == "protected"


def test_the_sandbox_keeps_a_reconciled_nsg_to_its_template_until_told_otherwise(bob, sandbox, view):
    sandbox.control("POST", "nsgs/redeploy", {"nsg": "nsg-rg-web-default", "reconcile": True})
    url = f"/vms/{view.sub('Contoso Production')}/rg-web/web-02/health/restore"
    assert bob.post(url).context["done"].recreate is not None
    assert (
        sandbox.control("POST", "nsgs/redeploy", {"nsg": "nsg-rg-web-default", "reconcile": False})["reconciled"]
        is False
    )
    done = bob.post(url).context["done"]
    assert done.ok and done.recreate is None


def test_restore_names_the_older_allow_rule_that_still_lets_traffic_in_before_jits_deny_rule(bob, view):
    """sql-02's deny rule is in force, but allow-ssh (290, from Internet) comes first: re-applying the policy cannot
    fix that, and restore says so rather than "back on every port"."""
    page = bob.post(f"/vms/{view.sub('Contoso Production')}/rg-sql/sql-02/health/restore")
    done = page.context["done"]
    assert not done.ok and done.recreate is None
    assert "Another rule still lets traffic in before it" in done.message
    assert done.still_open == ("port 22: allow-ssh, priority 290, from Internet, on sql-02-nsg (NIC)",)
    assert "port 22: allow-ssh, priority 290, from Internet" in page.content.decode()
    # Where to delete or narrow it is a link, not words to go and find it by.
    vm_page = f"/vms/{view.sub('Contoso Production')}/rg-sql/sql-02/"
    assert f'<a class="button" href="{vm_page}">Delete or narrow it on sql-02\'s page</a>' in page.content.decode()
