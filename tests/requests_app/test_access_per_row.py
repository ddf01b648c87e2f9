"""My access per row (issue 23): End and Extend act on one VM and port (Azure replaces one port's window at a
time), "End all N" asks first and ends exactly what it listed, and what Azure has open that the portal did not
open shows, marked, for the person and for those who oversee a scope. Through the real SDK and MSAL."""

from __future__ import annotations

import pytest

from requests_app.models import AccessRequest, AccessRequestItem
from tests.azure_view import AzureView
from tests.conftest import fill, submit
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

DEV = ("Contoso Development", "rg-dev", "eastus")


def _three(alice, view: AzureView) -> AccessRequest:
    """One request for dev-01, dev-02 and dev-03, port 22 each (Development has no approval rule)."""
    ids = [view.vm_id(DEV[0], DEV[1], name) for name in ("dev-01", "dev-02", "dev-03")]
    assert submit(alice, fill(alice, ids)).status_code == 302
    access = AccessRequest.objects.latest("id")
    assert access.status == "opened" and access.items.count() == 3
    alice.post("/vms/refresh")
    return access


def _azure_ports(view: AzureView) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """(VM, port) → Azure's (status, reason) of each request line, oldest first, for the portal's requests."""
    found: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for request in view.policies(*DEV)[0].requests:
        for vm in request.virtual_machines:
            for port in vm.ports:
                found.setdefault((vm.id.rsplit("/", 1)[-1], port.number), []).append((port.status, port.status_reason))
    return found


def _item(access: AccessRequest, vm: str) -> AccessRequestItem:
    return access.items.get(vm_name=vm)


def test_end_on_one_row_ends_that_vm_and_port_alone(person, view):
    alice = person("alice")
    access = _three(alice, view)
    page = alice.get("/access/").content.decode()
    for vm in ("dev-01", "dev-02", "dev-03"):  # each row's button names its own VM and port
        assert f'aria-label="End {vm} port 22 now"' in page
    assert "End all 3" in page

    response = alice.post(f"/access/items/{_item(access, 'dev-02').pk}/end")
    assert response.status_code == 302 and response["Location"] == "/access/"
    lines = _azure_ports(view)
    assert lines[("dev-02", 22)][-2:] == [("Revoked", "NewerRequestInitiated"), ("Initiated", "UserRequested")]
    assert lines[("dev-01", 22)][-1] == ("Initiated", "UserRequested")
    assert lines[("dev-03", 22)][-1] == ("Initiated", "UserRequested")
    [event] = AuditEvent.objects.filter(action="access.end")
    assert [(i["vm"].rsplit("/", 1)[-1], i["port"]) for i in event.details["items"]] == [("dev-02", 22)]
    assert event.outcome == "ended early" and event.actor_name
    again = alice.post(f"/access/items/{_item(access, 'dev-02').pk}/end", follow=True)  # a second click
    # Said of that port alone: dev-01 and dev-03 are open (it read "Nothing of this request is open any more").
    assert [str(m) for m in again.context["messages"]][-1] == "dev-02 port 22 is not open any more."

    alice.post("/vms/refresh")
    mine = alice.get("/access/")
    assert sorted(a.item.vm_name for a in mine.context["open"]) == ["dev-01", "dev-03"]
    # The minute-long window that ended dev-02 is the portal's own; web-01 is the demo's, asked for elsewhere.
    assert [o.row.name for o in mine.context["outside"]] == ["web-01"]
    access.refresh_from_db()
    assert access.ended_at is None  # the rest of it stays open
    detail = alice.get(f"/access/requests/{access.pk}/")
    fates = {item.vm_name: fate for item, fate in detail.context["items"]}
    assert fates["dev-02"] == "ended early" and fates["dev-01"] == "open"
    assert "Ended early by alice@contoso.test" in detail.content.decode()
    rows = person("carol").get("/audit/", {"operation": "initiate", "vm": "dev-01"}).context["rows"]
    assert [r.fate for r in rows if r.justification == "Deploying hotfix 4.2.2"] == ["ended early (1 of 3 ports)"]


def test_extend_on_one_row_replaces_that_vm_and_port_alone(person, view, sandbox):
    alice = person("alice")
    access = _three(alice, view)
    item = _item(access, "dev-01")
    form = alice.get(f"/access/items/{item.pk}/extend")
    assert [p.item.vm_name for p in form.context["ports"]] == ["dev-01"]
    response = alice.post(
        f"/access/items/{item.pk}/extend",
        {"duration_value": "2", "duration_unit": "hours", "request_key": form.context["form"]["request_key"].value()},
    )
    assert response.status_code == 302
    extension = AccessRequest.objects.latest("id")
    assert extension.extends_id == access.pk and [(i.vm_name, i.port) for i in extension.items.all()] == [
        ("dev-01", 22)
    ]
    lines = _azure_ports(view)
    assert lines[("dev-01", 22)][-2:] == [("Revoked", "NewerRequestInitiated"), ("Initiated", "UserRequested")]
    assert lines[("dev-02", 22)][-1] == ("Initiated", "UserRequested") == lines[("dev-03", 22)][-1]
    alice.post("/vms/refresh")
    mine = alice.get("/access/").context["open"]
    assert sorted((a.item.vm_name, a.item.request_id) for a in mine) == [
        ("dev-01", extension.pk),
        ("dev-02", access.pk),
        ("dev-03", access.pk),
    ]


def test_end_all_asks_first_and_ends_exactly_what_it_listed(person, view):
    alice = person("alice")
    access = _three(alice, view)
    before = _azure_ports(view)
    asked = alice.get("/access/end-all")
    assert asked.status_code == 200 and _azure_ports(view) == before, "asking ends nothing"
    listed = [p.item.pk for p in asked.context["ports"]]
    assert sorted(listed) == sorted(access.items.values_list("pk", flat=True))
    assert "End these 3 now" in asked.content.decode()
    # Something opened after the question was asked is not ended by its answer.
    later = fill(alice, [view.vm_id("Contoso Production", "rg-web", "web-02")])
    assert submit(alice, later).status_code == 302
    alice.post("/access/end-all", {"item": [str(pk) for pk in listed]})
    lines = _azure_ports(view)
    assert all(lines[(vm, 22)][-2][1] == "NewerRequestInitiated" for vm in ("dev-01", "dev-02", "dev-03"))
    access.refresh_from_db()
    assert access.ended_at is not None and access.ended_by.upn == "alice@contoso.test"
    assert AuditEvent.objects.filter(action="access.end", outcome="ended early").count() == 1  # one policy
    alice.post("/vms/refresh")
    assert [a.item.vm_name for a in alice.get("/access/").context["open"]] == ["web-02"]


def test_nobody_ends_or_extends_someone_elses_port_but_an_admin_of_its_scope(person, view):
    alice = person("alice")
    access = _three(alice, view)
    item = _item(access, "dev-03")
    dave = person("dave")  # a requester too, with no Azure rights
    assert dave.post(f"/access/items/{item.pk}/end").status_code == 404
    assert dave.get(f"/access/items/{item.pk}/extend").status_code == 404
    assert (
        dave.post(f"/access/items/{item.pk}/extend", {"duration_value": "1", "duration_unit": "hours"}).status_code
        == 404
    )
    dave.post("/access/end-all", {"item": [str(item.pk)]})  # not his: the list is his own open ports only
    assert person("carol").post(f"/access/items/{item.pk}/end").status_code == 403  # an auditor ends nothing
    hana = person("hana")  # an approver, but Development is outside what Azure lets her read
    assert hana.post(f"/access/items/{item.pk}/end").status_code == 404
    assert AuditEvent.objects.filter(action="access.end").count() == 0
    assert _azure_ports(view)[("dev-03", 22)][-1] == ("Initiated", "UserRequested")
    bob = person("bob")  # an admin whose scope holds it
    assert bob.post(f"/access/items/{item.pk}/extend").status_code == 403  # only the requester extends
    inbox = bob.get("/access/approvals/").content.decode()  # one button per port, naming it and whose it is
    assert 'aria-label="End dev-03 port 22 of alice@contoso.test now"' in inbox
    assert bob.post(f"/access/items/{item.pk}/end", {"next": "/access/approvals/"})["Location"] == "/access/approvals/"
    item.refresh_from_db()
    assert item.ended_by.upn == "bob@contoso.test"
    assert _azure_ports(view)[("dev-03", 22)][-2] == ("Revoked", "NewerRequestInitiated")
    assert _azure_ports(view)[("dev-01", 22)][-1] == ("Initiated", "UserRequested")


def test_what_azure_has_open_outside_the_portal_shows_marked(person, view, sandbox):
    """The demo's past has web-01:22 open for Alice and sql-01:3389 for Bob, asked for outside the portal."""
    alice = person("alice")
    _three(alice, view)
    alice.get("/access/")  # the inventory is read once; My access then costs no ARM call of its own
    sandbox.control("POST", "stats")
    mine = alice.get("/access/")
    assert sum(sandbox.control("GET", "stats")["calls"].values()) == 0
    assert [(o.row.name, o.line.port) for o in mine.context["outside"]] == [("web-01", 22)]
    assert sorted(a.item.vm_name for a in mine.context["open"]) == ["dev-01", "dev-02", "dev-03"]
    assert "opened outside the portal" in mine.content.decode()
    assert "Nothing is open for you right now" not in mine.content.decode()

    inbox = person("bob").get("/access/approvals/")
    assert sorted((o.line.requestor, o.row.name, o.line.port) for o in inbox.context["outside"]) == [
        ("alice@contoso.test", "web-01", 22),
        ("bob@contoso.test", "sql-01", 3389),
    ]
    assert "opened outside the portal" in inbox.content.decode()
    hana = person("hana").get("/access/approvals/")  # Production only: what her scope holds
    assert sorted(o.row.name for o in hana.context["outside"]) == ["sql-01", "web-01"]
    assert [a.pk for a, _ in hana.context["opened"]] == []
