"""Rows that say what happened (issue: "The record auditors sign"): who asked beside Azure's caller, VM:port pairs
with each pair's window, an early end and an extension as what they are (not new approvals), a removal as a
removal — in the report, a VM's activity, the CSV and the VM list."""

from __future__ import annotations

import pytest

from requests_app.models import AccessRequest
from tests.audit.downloads import csv_download
from tests.conftest import fill, sign_in, submit
from tests.requests_app.conftest import ask, decide

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _as(client, sandbox, person: str):
    client.post("/accounts/sign-out")
    assert sign_in(client, sandbox, person).status_code == 302
    return client


def _vm_row(client, name: str):
    """The VM list's row of `name`, as the person's inventory has it after a refresh."""
    from vms.inventory import get_inventory

    client.post("/vms/refresh")
    return next(r for r in get_inventory(client.session, int(client.session["_auth_user_id"])).rows if r.name == name)


def _report(client, **filters) -> list:
    return client.get("/audit/", {"start": "", **filters}).context["rows"]


def test_an_approved_request_is_requested_by_the_requester_beside_the_approver_as_caller(
    person, production_rule, sandbox, view
):
    alice, hana, carol = person("alice"), person("hana"), person("carol")
    access = ask(alice, view, justification="patch openssl")
    decide(hana, access, "approve", "ok")
    row = next(r for r in _report(carol, vm="web-02") if r.meaning == "access granted")
    assert (row.requested_by, row.event.caller, row.request) == (
        "alice@contoso.test",
        "hana@contoso.test",
        f"request {access.pk}",
    )
    _, rows, _ = csv_download(carol, "/audit/report.csv", {"vm": "web-02"})
    line = next(r for r in rows if r["Meaning"] == "access granted")
    assert (line["Requested by"], line["Event initiated by"]) == ("alice@contoso.test", "hana@contoso.test")
    # Filtering by a person finds the requests they made, whoever's token opened them.
    assert row.event.id in [r.event.id for r in _report(carol, vm="web-02", person="alice")]
    activity = carol.get(f"/audit/vm/{view.sub('Contoso Production')}/rg-web/web-02/").context["rows"]
    assert next(r for r in activity if r.meaning == "access granted").requested_by == "alice@contoso.test"
    # The VM list's last user is the requester too, not the approver whose token opened it.
    assert _vm_row(alice, "web-02").last_user == "alice@contoso.test"


def test_one_operation_over_two_vms_shows_vm_port_pairs_and_each_pairs_window(person, sandbox, view):
    alice, carol = person("alice"), person("carol")
    ids = [view.vm_id("Contoso Development", "rg-dev", name) for name in ("dev-01", "dev-02")]
    form = alice.get("/access/new", {"vm": ids}).context["form"]
    first = {c.row.name: c for c in reversed(form.choices)}  # each VM's first port
    data = fill(alice, ids, ports=())
    data.update(
        {
            first["dev-01"].field_name: "on",
            first["dev-02"].field_name: "on",
            f"{first['dev-02'].field_name}-for_value": "30",
            f"{first['dev-02'].field_name}-for_unit": "minutes",
        }
    )
    assert submit(alice, data).status_code == 302
    access = AccessRequest.objects.latest("id")
    row = next(r for r in _report(carol, resource_group="rg-dev") if r.request == f"request {access.pk}")
    one, two = f"dev-01:{first['dev-01'].port.number}", f"dev-02:{first['dev-02'].port.number}"
    assert row.ports == f"{one}, {two}"
    assert row.window.startswith(f"{one} ") and f"; {two} " in row.window  # each pair's own window
    page = carol.get("/audit/", {"resource_group": "rg-dev"}).content.decode()
    assert f"{two} " in page and "30 min" in alice.get(f"/access/requests/{access.pk}/").content.decode()


def test_end_now_and_an_extension_are_shown_as_such_and_not_counted_as_approvals(person, sandbox, view):
    alice, carol = person("alice"), person("carol")
    alice.post("/vms/refresh")

    before = _vm_row(alice, "web-02").approved_7d
    access = ask(alice, view)
    sandbox.advance("PT10M")
    alice.post("/vms/refresh")
    form = alice.get(f"/access/requests/{access.pk}/extend").context["form"]
    alice.post(
        f"/access/requests/{access.pk}/extend",
        {"duration_value": "2", "duration_unit": "hours", "request_key": form["request_key"].value()},
    )
    extension = AccessRequest.objects.latest("id")
    sandbox.advance("PT10M")
    alice.post("/vms/refresh")
    assert alice.post(f"/access/requests/{extension.pk}/end").status_code == 302
    sandbox.advance("PT10M")
    again = ask(alice, view)
    assert _vm_row(alice, "web-02").approved_7d == before + 2  # the two requests; neither the extension nor the end
    rows = {r.request: r for r in _report(carol, vm="web-02") if r.request}
    assert rows[f"request {access.pk}"].meaning == "access granted"
    assert rows[f"request {extension.pk}"].meaning == f"extension of request {access.pk}"
    ended = [r for r in _report(carol, vm="web-02") if r.meaning.startswith("ended early")]
    assert [(r.meaning, r.request, r.requested_by) for r in ended] == [
        ("ended early by alice@contoso.test", f"request {extension.pk}", "alice@contoso.test")
    ]
    assert rows[f"request {again.pk}"].meaning == "access granted"
    granted = [r for r in _report(carol, vm="web-02", operation="grant") if r.request]
    assert {r.request for r in granted} == {f"request {access.pk}", f"request {again.pk}"}


def test_removing_jit_is_a_removal_beside_azures_operation_and_found_by_the_filter(bob, sandbox, view):
    url = f"/vms/{view.sub('Contoso Production')}/rg-web/web-04/jit/remove"
    bob.post(url, {"opened": bob.get(url).context["opened"]})
    carol = _as(bob, sandbox, "carol")
    removal = next(r for r in _report(carol, vm="web-04") if "removed from web-04" in r.change)
    assert removal.event.operation_name == "Create or Update JIT Network Access Policy"
    assert removal.meaning == "JIT removed"
    assert [r.event.id for r in _report(carol, operation="remove")] == [removal.event.id]
    page = carol.get("/audit/", {"vm": "web-04"}).content.decode()
    assert "JIT removed" in page and "Create or Update JIT Network Access Policy" in page


def test_the_same_rows_as_json_lines_with_stable_fields_and_event_codes_and_a_manifest(
    person, sandbox, view, tmp_path, capsys
):
    import json

    from django.core.management import call_command

    from audit.jsonl_export import FIELDS
    from tests.audit.downloads import body, manifest_of

    alice, carol = person("alice"), person("carol")
    access = ask(alice, view)
    alice.post("/vms/refresh")
    alice.post(f"/access/requests/{access.pk}/end")
    _, rows, _ = csv_download(carol, "/audit/report.csv", {"vm": "web-02"})
    response = carol.get("/audit/report.jsonl", {"vm": "web-02"})
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    data = body(response)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert len(lines) == len(rows) and all(list(x) == ["event_code", "event_type", *FIELDS] for x in lines)
    assert [x["justification"] for x in lines] == [r["Justification"] for r in rows]
    codes = sorted((x["event_code"], x["event_type"]) for x in lines if x["portal_request"] == f"request {access.pk}")
    assert codes == [("JIT100I", "access.granted"), ("JIT102I", "access.ended_early")]
    manifest = manifest_of(carol, response)
    assert manifest["media_type"] == "application/x-ndjson" and manifest["rows"] == len(lines)
    (tmp_path / "a.jsonl").write_bytes(data)
    (tmp_path / "a.json").write_text(json.dumps(manifest))
    call_command("verify_export", str(tmp_path / "a.jsonl"), str(tmp_path / "a.json"))
    assert "a.jsonl matches its manifest" in capsys.readouterr().out


def test_rows_hidden_by_read_scope_count_a_change_outside_it_at_once_and_once(person, sandbox, view):
    grace, bob = person("grace"), person("bob")
    before = grace.get("/audit/").context["hidden"]
    mon_01 = view.vm_id("Contoso Shared Services", "rg-monitor", "mon-01")
    assert bob.post("/vms/enable/defaults", {"vm": [mon_01]}, follow=True).context["outcomes"][0].ok
    assert grace.get("/audit/").context["hidden"] == before + 1  # nobody else has read the report since
    person("carol").get("/audit/")  # Carol, who reads rg-monitor, archives it
    assert grace.get("/audit/").context["hidden"] == before + 1  # counted once, archived or not


def _outside_the_portal_in_rg_monitor(view) -> None:
    """Bob enables JIT on mon-01 (rg-monitor, outside Grace's read scope) with Azure's own client: an Activity Log
    event the portal's trail knows nothing of."""
    mon_01 = view.vm_id("Contoso Shared Services", "rg-monitor", "mon-01")
    view.clients.security(view.sub("Contoso Shared Services")).jit_network_access_policies.create_or_update(
        "rg-monitor",
        "eastus",
        "default",
        {
            "properties": {
                "virtualMachines": [
                    {
                        "id": mon_01,
                        "ports": [
                            {
                                "number": 22,
                                "protocol": "*",
                                "allowedSourceAddressPrefix": "*",
                                "maxRequestAccessDuration": "PT3H",
                            }
                        ],
                    }
                ]
            },
            "kind": "Basic",
        },
    )


def test_rows_hidden_by_read_scope_count_an_azure_event_outside_it_once_someone_collected_it(person, view):
    grace = person("grace")
    before = grace.get("/audit/").context["hidden"]
    _outside_the_portal_in_rg_monitor(view)
    person("carol").get("/audit/")  # Carol reads rg-monitor: her read archives Azure's event
    assert grace.get("/audit/").context["hidden"] == before + 1  # counted at Grace's next read: no cache between


def test_rows_hidden_by_read_scope_count_an_azure_event_outside_it_at_the_moment_she_reads(
    person, sandbox, view, settings
):
    """With the read-only app identity configured, nobody else need read first: Grace's read collects as the app."""
    reader = next(a for a in sandbox.info()["apps"] if a["display_name"] == "jitportal audit reader")
    settings.AUDIT_READER_CLIENT_ID, settings.AUDIT_READER_CLIENT_SECRET = reader["client_id"], reader["client_secret"]
    settings.AUDIT_COLLECT_SECONDS = 0  # a read per view (at most one a minute by default: test_collect_throttle)
    grace = person("grace")
    before = grace.get("/audit/").context["hidden"]
    _outside_the_portal_in_rg_monitor(view)
    page = grace.get("/audit/")
    assert page.context["hidden"] == before + 1
    assert "mon-01" not in page.content.decode()
