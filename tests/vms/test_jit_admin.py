"""Admins enable, edit and remove JIT; the sandbox afterwards holds exactly what the form said."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import PORTAL_HOST, save_edit, sign_in
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PER_REQUEST_3H = ("*", "PT3H")


def formset(ports: list[dict], extra: int = 0, **fields) -> dict:
    data = {
        "form-TOTAL_FORMS": str(len(ports) + extra),
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, port in enumerate(ports):
        values = {
            "protocol": "*",
            "source": "per-request",
            "addresses": "",
            "max_value": "3",
            "max_unit": "hours",
            **port,
        }
        data.update({f"form-{i}-{k}": str(v) for k, v in values.items()})
    return data


def open_form(client: Client, url: str, **query) -> dict:
    page = client.get(url, query)
    assert page.status_code == 200, page.content.decode()[:2000]
    return {"opened": page.context["opened"]}


def test_enable_with_defaults_puts_the_recommended_ports_and_adds_deny_rules(bob, sandbox, view):
    ids = [view.vm_id("Contoso Development", "rg-build", n) for n in ("build-01", "build-02")]
    sandbox.control("POST", "stats")
    page = bob.post("/vms/enable/defaults", {"vm": ids}, follow=True)
    assert [(o.vm_name, o.ok) for o in page.context["outcomes"]] == [("build-01", True), ("build-02", True)]
    assert sandbox.control("GET", "stats")["calls"]["jit.put"] == 1  # one PUT for the one policy
    ports = view.ports("Contoso Development", "rg-build", "westus2")
    assert ports == {name: [(n, "*", "*", "PT3H") for n in (22, 3389, 5985, 5986)] for name in ("build-01", "build-02")}
    denies = view.deny_rules("Contoso Development", "rg-build", "nsg-rg-build-default")
    assert len(denies) == 2 and set(denies[0].destination_port_ranges) == {"22", "3389", "5985", "5986"}
    event = AuditEvent.objects.get(action="jit.enable")
    assert event.outcome == "succeeded" and event.details["before"] == {} and len(event.details["after"]) == 2


def test_enable_with_custom_ports_through_the_form(bob, view):
    target = view.vm_id("Contoso Development", "rg-build", "build-03")
    opened = open_form(bob, "/vms/enable", vm=target)
    data = formset(
        [
            {"number": 22, "max_value": 2},
            {
                "number": 2222,
                "protocol": "TCP",
                "source": "list",
                "addresses": "10.0.0.0/24, 203.0.113.7",
                "max_value": 90,
                "max_unit": "minutes",
            },
        ],
        vm=target,
        **opened,
    )
    page = bob.post("/vms/enable", data, follow=True)
    assert [o.ok for o in page.context["outcomes"]] == [True], page.context["outcomes"]
    assert view.ports("Contoso Development", "rg-build", "westus2")["build-03"] == [
        (22, "*", "*", "PT2H"),
        (2222, "TCP", ("10.0.0.0/24", "203.0.113.7"), "PT1H30M"),
    ]


def test_bulk_enable_across_regions_and_subscriptions_makes_one_put_per_policy(bob, sandbox, view):
    ids = [
        view.vm_id("Contoso Development", "rg-build", "build-04"),
        view.vm_id("Contoso Development", "rg-dev", "dev-04"),
        view.vm_id("Contoso Shared Services", "rg-monitor", "mon-01"),
    ]
    history_before = len(view.policies("Contoso Development", "rg-dev", "eastus")[0].requests)
    sandbox.control("POST", "stats")
    page = bob.post("/vms/enable/defaults", {"vm": ids}, follow=True)
    assert all(o.ok for o in page.context["outcomes"]) and len(page.context["outcomes"]) == 3
    assert sandbox.control("GET", "stats")["calls"]["jit.put"] == 3
    dev = view.ports("Contoso Development", "rg-dev", "eastus")
    assert set(dev) == {"dev-01", "dev-02", "dev-03", "dev-04"}  # the existing VMs are kept
    assert len(view.policies("Contoso Development", "rg-dev", "eastus")[0].requests) == history_before
    assert set(view.ports("Contoso Shared Services", "rg-monitor", "eastus")) == {"mon-01"}


def test_a_failure_in_one_policy_leaves_the_others_done_and_says_which(bob, sandbox, view):
    sandbox.control(
        "POST", "faults", {"operation": "jit.put", "kind": "500", "count": 10, "path_contains": "rg-monitor"}
    )
    ids = [
        view.vm_id("Contoso Development", "rg-build", "build-05"),
        view.vm_id("Contoso Shared Services", "rg-monitor", "mon-02"),
    ]
    outcomes = {o.vm_name: o for o in bob.post("/vms/enable/defaults", {"vm": ids}, follow=True).context["outcomes"]}
    assert outcomes["build-05"].ok and not outcomes["mon-02"].ok
    assert "HTTP 500" in outcomes["mon-02"].message
    assert "mon-02" not in view.ports("Contoso Shared Services", "rg-monitor", "eastus")
    # A 500 on a change is an unknown outcome (Azure may still apply it): not "failed" until a read settles it.
    assert AuditEvent.objects.filter(action="jit.enable", outcome="unknown").count() == 1


def test_edit_changes_one_vm_and_keeps_the_others_and_the_history(bob, view):
    before = view.ports("Contoso Production", "rg-web", "westeurope")
    history = len(view.policies("Contoso Production", "rg-web", "westeurope")[0].requests)
    url = f"/vms/{view.sub('Contoso Production')}/rg-web/web-02/jit/edit"
    opened = open_form(bob, url)
    page = save_edit(
        bob,
        url,
        formset([{"number": 22}, {"number": 3389, "DELETE": "on"}, {"number": 8443, "max_value": 1}], **opened),
        follow=True,
    )
    assert [o.ok for o in page.context["outcomes"]] == [True]
    after = view.ports("Contoso Production", "rg-web", "westeurope")
    assert after["web-02"] == [(22, "*", "*", "PT3H"), (8443, "*", "*", "PT1H")]
    assert {k: v for k, v in after.items() if k != "web-02"} == {k: v for k, v in before.items() if k != "web-02"}
    assert len(view.policies("Contoso Production", "rg-web", "westeurope")[0].requests) == history
    event = AuditEvent.objects.get(action="jit.edit")
    web02 = next(k for k in event.details["after"] if k.endswith("/web-02"))
    assert [p["port"] for p in event.details["after"][web02]] == [22, 8443]
    assert 3389 in [p["port"] for p in event.details["before"][web02]]


def test_remove_takes_one_vm_out_and_deletes_a_policy_left_empty(bob, view):
    url = f"/vms/{view.sub('Contoso Production')}/rg-web/web-04/jit/remove"
    confirm = bob.get(url)
    assert "Access that is open now stays open until it expires" in confirm.content.decode()
    bob.post(url, {"opened": confirm.context["opened"]})
    assert set(view.ports("Contoso Production", "rg-web", "westeurope")) == {"web-01", "web-02", "web-03"}
    url = f"/vms/{view.sub('Contoso Shared Services')}/rg-shared/ad-01/jit/remove"
    page = bob.post(url, {"opened": bob.get(url).context["opened"]}, follow=True)
    assert [o.ok for o in page.context["outcomes"]] == [True]
    assert view.policies("Contoso Shared Services", "rg-shared", "northeurope") == []
    assert AuditEvent.objects.filter(action="jit.remove", outcome="succeeded").count() == 2


def test_a_stale_form_is_refused_with_what_changed_and_nothing_is_written(bob, view):
    sub = view.sub("Contoso Production")
    first = open_form(bob, f"/vms/{sub}/rg-web/web-01/jit/edit")
    second = open_form(bob, f"/vms/{sub}/rg-web/web-02/jit/edit")
    save_edit(bob, f"/vms/{sub}/rg-web/web-01/jit/edit", formset([{"number": 22, "max_value": 1}], **first))
    saved = view.ports("Contoso Production", "rg-web", "westeurope")
    page = save_edit(bob, f"/vms/{sub}/rg-web/web-02/jit/edit", formset([{"number": 3389}], **second), follow=True)
    note = page.context["notes"][0]
    assert page.status_code == 200 and "changed since you opened the form" not in note
    assert note.startswith("Nothing was saved: Someone") and "Someone removed port 3389 from web-01" in note
    assert "Someone changed port 22 on web-01: now 22/" in note and "up to 1 h" in note
    assert view.ports("Contoso Production", "rg-web", "westeurope") == saved


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_never_lose_an_update(sandbox, view):
    sub = view.sub("Contoso Production")
    admins = [Client(HTTP_HOST=PORTAL_HOST), Client(HTTP_HOST=PORTAL_HOST)]
    for admin in admins:
        sign_in(admin, sandbox, "bob")
    forms = [
        open_form(admins[0], f"/vms/{sub}/rg-web/web-01/jit/edit"),
        open_form(admins[1], f"/vms/{sub}/rg-web/web-02/jit/edit"),
    ]
    sandbox.control("POST", "latency", {"operation": "jit.put", "ms": 300})  # widen the window for a race
    results: dict[str, object] = {}

    def save(i: int, vm: str, port: int) -> None:
        try:
            page = save_edit(
                admins[i], f"/vms/{sub}/rg-web/{vm}/jit/edit", formset([{"number": port}], **forms[i]), follow=True
            )
            results[vm] = page.content.decode()  # not page.context: template signals mix across threads
        finally:
            connection.close()

    threads = [
        threading.Thread(target=save, args=(0, "web-01", 2201)),
        threading.Thread(target=save, args=(1, "web-02", 2202)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    final = view.ports("Contoso Production", "rg-web", "westeurope")
    told_saved = {vm: f"<td>{vm}</td><td>Done</td>" in html for vm, html in results.items()}
    for vm, port in (("web-01", 2201), ("web-02", 2202)):
        saved = final[vm] == [(port, "*", "*", "PT3H")]
        assert saved == told_saved[vm], (vm, final[vm])  # saved, or told so: never silently lost
        if not saved:
            assert "review it and save again" in results[vm]
    assert any(told_saved.values())


@pytest.mark.parametrize(
    "ports, error",
    [
        ([{"number": 70000}], "A port is between 1 and 65535."),
        ([{"number": 0}], "A port is between 1 and 65535."),
        ([{"number": 22}, {"number": 22}], "Port 22 is listed more than once."),
        ([{"number": 22, "source": "list", "addresses": "10.0.0.300"}], "is not an IP address or CIDR range"),
        ([{"number": 22, "source": "list", "addresses": ""}], "List at least one IP or CIDR"),
        ([{"number": 22, "source": "list", "addresses": "10.0.0.1, fe80::1%eth0"}], "names a local network interface"),
        ([{"number": 22, "max_value": 25}], "From 5 min to 24 h."),
        ([{"number": 22, "max_value": 4, "max_unit": "minutes"}], "From 5 min to 24 h."),
        ([{"number": 22, "max_value": "x"}], "Give the time as a whole number."),
        ([{"number": 22, "DELETE": "on"}], "Keep or add at least one port"),
    ],
)
def test_bad_ports_are_refused_beside_the_field_and_nothing_is_written(bob, sandbox, view, ports, error):
    target = view.vm_id("Contoso Development", "rg-build", "build-01")
    opened = open_form(bob, "/vms/enable", vm=target)
    sandbox.control("POST", "stats")
    page = bob.post("/vms/enable", formset(ports, vm=target, **opened))
    assert page.status_code == 200 and error in page.content.decode()
    assert "jit.put" not in sandbox.control("GET", "stats")["calls"]


def test_a_vm_name_too_long_for_the_policy_is_refused_in_words(bob, view):
    long_name = "mon-telemetry-ingest-worker-westeurope-blue-000001"
    page = bob.get("/vms/enable", {"vm": view.vm_id("Contoso Shared Services", "rg-monitor", long_name)})
    assert (
        f"{long_name}: Left out: the policy name &#x27;default&#x27; and this VM&#x27;s name together exceed Azure&#x27;s 56 characters"
        in page.content.decode()
    )


def test_a_vm_name_too_long_for_the_policy_cannot_be_picked_and_is_named_where_it_is_listed(bob):
    page = bob.get("/vms/", {"tab": "not-configured", "q": "mon-"}).content.decode()
    assert 'aria-label="Select mon-01"' in page
    assert 'aria-label="Select mon-telemetry-ingest-worker-westeurope-blue-000001"' not in page
    assert (
        "Enable JIT on mon-telemetry-ingest-worker-westeurope-blue-000001 (in rg-monitor): the policy name "
        "&#x27;default&#x27; and this VM&#x27;s name together exceed Azure&#x27;s 56 characters, so JIT cannot "
        "protect it."
    ) in page


@pytest.mark.parametrize(
    "vms, ports",
    [
        ((("Contoso Development", "rg-build", "build-01"),), [22]),
        ((("Contoso Production", "rg-sql", "sql-03"),), [3389, 5985, 5986]),
        (
            (("Contoso Development", "rg-build", "build-01"), ("Contoso Production", "rg-sql", "sql-03")),
            [22, 3389, 5985, 5986],
        ),
    ],
)
def test_the_enable_form_shows_each_vms_os_and_starts_with_its_oss_ports(bob, view, vms, ports):
    page = bob.get("/vms/enable", {"vm": [view.vm_id(*vm) for vm in vms]})
    assert [
        form.initial["number"]
        for form in page.context["formset"].initial_forms or page.context["formset"].forms
        if form.initial
    ] == ports
    html = page.content.decode()
    assert '<th scope="col">OS</th>' in html
    assert ("<td>Linux</td>" in html) == any(vm[1] == "rg-build" for vm in vms)
    assert ("<td>Windows</td>" in html) == any(vm[1] == "rg-sql" for vm in vms)


def test_an_admin_azure_gives_only_read_access_is_told_so_and_nothing_is_sent(portal, sandbox, view):
    sign_in(portal, sandbox, "frank")
    sandbox.control("POST", "stats")
    target = view.vm_id("Contoso Development", "rg-build", "build-01")
    page = portal.get("/vms/enable", {"vm": [target]})
    assert "Left out: Azure gives you read-only access to rg-build." in page.content.decode()
    assert not page.context["rows"]
    page = portal.post("/vms/enable/defaults", {"vm": [target]}, follow=True)
    assert [(o.ok, o.message) for o in page.context["outcomes"]] == [
        (False, "Left out: Azure gives you read-only access to rg-build.")
    ]
    assert "jit.put" not in sandbox.control("GET", "stats")["calls"]


def test_an_admin_without_azure_write_rights_gets_azures_refusal_in_words(portal, sandbox, view):
    # When Azure will not say what Frank may do, the portal lets Azure decide at the write.
    sandbox.control("POST", "faults", {"operation": "permissions.listForResourceGroup", "kind": "500", "count": 100})
    sign_in(portal, sandbox, "frank")
    page = portal.post(
        "/vms/enable/defaults", {"vm": [view.vm_id("Contoso Development", "rg-build", "build-01")]}, follow=True
    )
    outcome = page.context["outcomes"][0]
    assert not outcome.ok
    assert outcome.message.startswith(
        "Azure refused: you lack Microsoft.Security/locations/jitNetworkAccessPolicies/write on "
    )
    assert "build-01" not in view.ports("Contoso Development", "rg-build", "westus2")
    assert AuditEvent.objects.get(action="jit.enable").outcome == "failed"


@pytest.mark.parametrize("person", ["alice", "carol", "dave"])
def test_people_without_the_admin_role_are_refused_by_the_portal(portal, sandbox, view, person):
    sign_in(portal, sandbox, person)
    sub = view.sub("Contoso Production")
    target = view.vm_id("Contoso Development", "rg-build", "build-01")
    assert portal.get("/vms/enable", {"vm": target}).status_code == 403
    assert portal.post("/vms/enable/defaults", {"vm": [target]}).status_code == 403
    assert portal.get(f"/vms/{sub}/rg-web/web-01/jit/edit").status_code == 403
    assert portal.post(f"/vms/{sub}/rg-web/web-01/jit/remove").status_code == 403
    assert "build-01" not in view.ports("Contoso Development", "rg-build", "westus2")


def test_ids_that_are_not_visible_vms_are_left_out_with_a_message(bob, view):
    page = bob.get(
        "/vms/enable",
        {"vm": ["/subscriptions/x/../../evil", view.vm_id("Contoso Development", "rg-build", "no-such-vm")]},
    )
    text = page.content.decode()
    assert page.status_code == 200 and "is not a virtual machine you can see" in text and "No VM to enable" in text


def test_a_vm_already_in_another_policy_is_edited_there_not_duplicated(bob, view):
    security = view.clients.security(view.sub("Contoso Development"))
    target = view.vm_id("Contoso Development", "rg-build", "build-02")
    security.jit_network_access_policies.create_or_update(
        "rg-build",
        "westus2",
        "team-policy",
        {
            "properties": {
                "virtualMachines": [
                    {
                        "id": target,
                        "ports": [
                            {
                                "number": 22,
                                "protocol": "*",
                                "allowedSourceAddressPrefix": "*",
                                "maxRequestAccessDuration": "PT1H",
                            }
                        ],
                    }
                ]
            }
        },
    )
    bob.post("/vms/refresh")
    url = f"/vms/{view.sub('Contoso Development')}/rg-build/build-02/jit/edit"
    page = bob.post(url, formset([{"number": 22}, {"number": 3389}], **open_form(bob, url)), follow=True)
    assert [o.ok for o in page.context["outcomes"]] == [True]
    policies = {
        p.name: [vm.id.rsplit("/", 1)[-1] for vm in p.virtual_machines]
        for p in view.policies("Contoso Development", "rg-build", "westus2")
    }
    assert policies == {"team-policy": ["build-02"]}
    assert [p[0] for p in view.ports("Contoso Development", "rg-build", "westus2")["build-02"]] == [22, 3389]


def test_an_expired_or_altered_form_is_shown_again_with_azures_policy_and_can_then_be_saved(bob, view):
    url = f"/vms/{view.sub('Contoso Production')}/rg-web/web-03/jit/edit"
    page = bob.post(url, formset([{"number": 2222}], opened="forged"))
    assert "it now shows Azure&#x27;s policies as they are" in page.content.decode()
    saved = save_edit(bob, url, formset([{"number": 2222}], opened=page.context["opened"]), follow=True)
    assert [o.ok for o in saved.context["outcomes"]] == [True]
    assert [p[0] for p in view.ports("Contoso Production", "rg-web", "westeurope")["web-03"]] == [2222]


def test_a_sign_in_that_expired_before_the_save_is_a_trip_to_sign_in_not_an_outcome(bob, sandbox, view):
    target = view.vm_id("Contoso Development", "rg-build", "build-01")
    assert bob.get("/vms/", {"tab": "not-configured"}).status_code == 200  # the list is cached, tokens are not
    sandbox.advance("P2D")  # past the one-day refresh token
    sandbox.control("POST", "stats")
    page = bob.post("/vms/enable/defaults", {"vm": [target]}, HTTP_REFERER="http://127.0.0.1:8000/vms/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/sign-in?next=")
    assert "jit.put" not in sandbox.control("GET", "stats")["calls"]
    assert not AuditEvent.objects.filter(action="jit.enable").exists()


def test_an_edit_that_removes_a_port_lists_it_and_saves_only_once_confirmed(bob, view):
    """#23 "Edit summarises what it removes before saving": the server's own page, which works without JavaScript."""
    url = f"/vms/{view.sub('Contoso Production')}/rg-web/web-03/jit/edit"
    before = view.ports("Contoso Production", "rg-web", "westeurope")["web-03"]
    data = formset([{"number": p[0]} for p in before] + [{"number": 8443}], **open_form(bob, url))
    data["form-1-DELETE"] = "on"  # 3389 goes
    asking = bob.post(url, data)
    assert asking.status_code == 200 and asking.context["listed"] == "3389"
    text = asking.content.decode()
    assert "<h1>Remove port 3389 from web-03?</h1>" in text
    assert "Remove port 3389 and save" in text and "Port 3389/Any from per request up to 3 h" in text
    assert 'name="csrfmiddlewaretoken"' in text
    assert view.ports("Contoso Production", "rg-web", "westeurope")["web-03"] == before  # nothing saved yet
    assert not AuditEvent.objects.filter(action="jit.edit").exists()
    back = bob.post(url, {**data, "back": "1"})  # back to the form, the person's changes kept, nothing saved
    assert back.context["formset"].data["form-1-DELETE"] == "on" and "listed" not in back.context
    assert view.ports("Contoso Production", "rg-web", "westeurope")["web-03"] == before
    stale = bob.post(url, {**data, "confirm_removal": "22"})  # a confirmation of something else asks again
    assert stale.context["listed"] == "3389"
    done = bob.post(url, {**data, "confirm_removal": "3389"}, follow=True)
    assert [o.ok for o in done.context["outcomes"]] == [True]
    assert [p[0] for p in view.ports("Contoso Production", "rg-web", "westeurope")["web-03"]] == sorted(
        {p[0] for p in before} - {3389} | {8443}
    )


def test_an_edit_that_only_adds_or_changes_saves_at_once(bob, view):
    url = f"/vms/{view.sub('Contoso Production')}/rg-web/web-03/jit/edit"
    before = view.ports("Contoso Production", "rg-web", "westeurope")["web-03"]
    data = formset([{"number": p[0], "max_value": 1} for p in before] + [{"number": 8443}], **open_form(bob, url))
    page = bob.post(url, data, follow=True)
    assert [o.ok for o in page.context["outcomes"]] == [True]


def test_a_confirmed_removal_still_meets_the_stale_edit_check(bob, view):
    sub = view.sub("Contoso Production")
    url = f"/vms/{sub}/rg-web/web-03/jit/edit"
    before = view.ports("Contoso Production", "rg-web", "westeurope")["web-03"]
    data = formset([{"number": p[0]} for p in before], **open_form(bob, url))
    data["form-0-DELETE"] = "on"
    listed = bob.post(url, data).context["listed"]
    # Meanwhile another edit of the same policy (web-01) is saved.
    save_edit(
        bob,
        f"/vms/{sub}/rg-web/web-01/jit/edit",
        formset([{"number": 22, "max_value": 1}], **open_form(bob, f"/vms/{sub}/rg-web/web-01/jit/edit")),
    )
    page = bob.post(url, {**data, "confirm_removal": listed})
    assert page.context["notes"][0].startswith("Nothing was saved: Someone")
    assert view.ports("Contoso Production", "rg-web", "westeurope")["web-03"] == before
