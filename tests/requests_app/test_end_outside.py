"""End for a window opened outside the portal (#23): per VM and port, as the portal ends its own (Azure replaces that
port's window with one that reaches nobody, for a minute; one `access.end` on the trail), for its requester and for
approvers and admins whose scope holds the VM, and for nobody else. The demo's past has web-01:22 open for Alice and
sql-01:3389 for Bob, both asked for outside the portal. Through the real SDK and MSAL against the sandbox."""

from __future__ import annotations

import pytest

from accounts.models import User
from core import justifications
from core.models import Notification
from tests.azure_view import AzureView
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PROD = "Contoso Production"


def _window(client, vm: str, port: int, page: str = "/access/"):
    return next(o for o in client.get(page).context["outside"] if (o.row.name, o.line.port) == (vm, port))


def _end(client, window, **extra):
    return client.post(
        "/access/outside/end",
        {"vm": window.row.vm_id, "port": window.line.port, "end": int(window.line.end.timestamp()), **extra},
        follow=True,
    )


def _lines(view: AzureView, rg: str, vm: str, port: int) -> list[tuple[str, str, str, str]]:
    """Azure's request lines of one VM and port: (requestor, status, reason, justification), oldest first."""
    policy = next(
        p for p in view.clients.security(view.sub(PROD)).jit_network_access_policies.list_by_resource_group(rg)
    )
    return [
        (r.requestor, p.status, p.status_reason, r.justification or "")
        for r in policy.requests
        for v in r.virtual_machines
        if v.id.endswith(f"/{vm}")
        for p in v.ports
        if p.number == port
    ]


def test_alice_ends_her_window_opened_outside_the_portal_from_my_access(person, view):
    alice = person("alice")
    window = _window(alice, "web-01", 22)
    page = _end(alice, window)
    assert "Ended web-01 port 22 (opened outside the portal by alice@contoso.test)" in page.content.decode()
    lines = _lines(view, "rg-web", "web-01", 22)
    assert ("alice@contoso.test", "Revoked", "NewerRequestInitiated", "Deploying hotfix 4.2.1") in lines
    assert lines[-1][3] == "Ended early by alice@contoso.test (opened outside the portal by alice@contoso.test)"
    event = AuditEvent.objects.get(action="access.end")
    assert event.outcome == "ended early" and event.details["opened_outside_by"] == "alice@contoso.test"
    assert [(i["port"], i["source"]) for i in event.details["items"]] == [(22, "192.0.2.1")]
    assert event.details["request"] is None and event.target.endswith(
        "/rg-web/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default"
    )
    after = alice.get("/access/")
    assert not after.context["outside"]  # neither the ended window nor the minute that replaced it
    assert "Nothing is open for you right now" in after.content.decode()


def test_a_developer_cannot_end_someone_elses_window_opened_outside_the_portal(person):
    alice = person("alice")  # Reader on Production: sql-01 is in her inventory, but Bob's window is not hers
    bobs = _window(person("bob"), "sql-01", 3389, "/access/approvals/")
    page = _end(alice, bobs)
    assert "That window is not open any more, or not one you may end." in page.content.decode()
    assert not AuditEvent.objects.filter(action="access.end").exists()
    assert _window(person("bob"), "sql-01", 3389, "/access/approvals/")


def test_a_developer_whose_sign_in_named_no_user_principal_sees_and_ends_nobodys_window(person):
    alice = person("alice")
    bobs = _window(person("bob"), "sql-01", 3389, "/access/approvals/")
    # Entra's preferred_username is optional: a blank name matched every requester's windows, as an approver's "all".
    User.objects.filter(upn="alice@contoso.test").update(upn="")
    assert alice.get("/access/").context["outside"] == []
    page = _end(alice, bobs)
    assert "That window is not open any more, or not one you may end." in page.content.decode()
    assert not AuditEvent.objects.filter(action="access.end").exists()


@pytest.mark.parametrize("key", ["carol", "erin", "grace"])  # an auditor, nobody, an auditor with Production
def test_who_holds_no_requester_approver_or_admin_role_is_refused(person, key):
    bobs = _window(person("bob"), "sql-01", 3389, "/access/approvals/")
    assert _end(person(key), bobs).status_code == 403
    assert not AuditEvent.objects.filter(action="access.end").exists()


def test_an_approver_ends_a_window_in_her_scope_and_its_requester_is_told(person, view):
    person("bob")  # the portal knows Bob: he has signed in
    hana = person("hana")  # JIT.Approver, Reader on Production
    window = _window(hana, "sql-01", 3389, "/access/approvals/")
    page = _end(hana, window, next="/access/approvals/")
    assert page.redirect_chain[-1][0] == "/access/approvals/"
    assert "Ended sql-01 port 3389 (opened outside the portal by bob@contoso.test)" in page.content.decode()
    assert ("bob@contoso.test", "Revoked", "NewerRequestInitiated", "Index maintenance") in _lines(
        view, "rg-sql", "sql-01", 3389
    )
    event = AuditEvent.objects.get(action="access.end")
    assert (event.actor_name, event.details["opened_outside_by"]) == ("hana@contoso.test", "bob@contoso.test")
    told = Notification.objects.get(kind="ended", recipient_user__upn="bob@contoso.test")
    assert told.body == "hana@contoso.test ended your access to sql-01 port 3389 (opened outside the portal)."
    assert not [o for o in hana.get("/access/approvals/").context["outside"] if o.row.name == "sql-01"]


def test_the_buttons_name_the_vm_port_and_whose(person):
    page = person("alice").get("/access/").content.decode()
    assert 'aria-label="End web-01 port 22 now"' in page
    inbox = person("bob").get("/access/approvals/").content.decode()
    assert 'aria-label="End sql-01 port 3389 of bob@contoso.test now"' in inbox
    assert 'aria-label="End web-01 port 22 of alice@contoso.test now"' in inbox


def test_an_outside_windows_end_reads_as_an_early_end():
    said = justifications.read(justifications.ended_outside("hana@contoso.test", "bob@contoso.test"))
    assert said == justifications.Read("ended", "bob@contoso.test", None)
    assert justifications.read(justifications.ended_early("a@x", 12, "b@x")) == justifications.Read("ended", "b@x", 12)


def test_an_admin_ends_one_and_the_audit_report_shows_an_early_end_of_whose_window(person, view):
    bob = person("bob")  # JIT.Admin, Security Admin in Azure
    window = _window(bob, "web-01", 22, "/access/approvals/")
    assert "Ended web-01 port 22" in _end(bob, window, next="/access/approvals/").content.decode()
    rows = person("carol").get("/audit/", {"operation": "end"}).context["rows"]
    row = next(r for r in rows if r.vms == "web-01")
    assert (row.meaning, row.requested_by, row.ports) == (
        "ended early by bob@contoso.test",
        "alice@contoso.test",
        "web-01:22",
    )


def test_frank_an_admin_azure_lets_only_read_is_told_azure_refused(person):
    frank = person("frank")
    window = _window(frank, "web-01", 22, "/access/approvals/")
    assert "Azure refused to end it:" in _end(frank, window, next="/access/approvals/").content.decode()
    assert AuditEvent.objects.get(action="access.end").outcome == "refused"
