"""Developers open ports through the real SDK against the sandbox, and see them in My access."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings

from requests_app.models import AccessRequest, AccessRequestItem
from requests_app.states import RequestStatus
from tests.azure_view import AzureView
from tests.conftest import MY_IP, fill, sign_in, submit
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_alice_opens_ssh_on_two_vms_in_two_policies(alice, sandbox, view):
    ids = [view.vm_id("Contoso Production", "rg-web", "web-02"), view.vm_id("Contoso Production", "rg-sql", "sql-02")]
    sandbox.control("POST", "stats")
    response = submit(alice, fill(alice, ids))
    assert response.status_code == 302
    assert sandbox.control("GET", "stats")["calls"]["jit.initiate"] == 2
    access = AccessRequest.objects.get()
    assert access.status == "opened" and {i.status for i in access.items.all()} == {"opened"}
    for rg, location in (("rg-web", "westeurope"), ("rg-sql", "northeurope")):
        last = view.policies("Contoso Production", rg, location)[0].requests[-1]
        assert (last.requestor, last.justification) == ("alice@contoso.test", "Deploying hotfix 4.2.2")
        assert last.virtual_machines[0].ports[0].allowed_source_address_prefix == MY_IP
    assert (MY_IP, "22") in view.allow_rules("Contoso Production", "rg-web", "nsg-rg-web-default")
    assert (MY_IP, "22") in view.allow_rules("Contoso Production", "rg-sql", "sql-02-nsg")
    mine = alice.get("/access/")
    assert {(a.item.vm_name, a.item.port) for a in mine.context["open"]} == {("web-02", 22), ("sql-02", 22)}
    assert [p.state for p in mine.context["history"]] == ["Open now"]
    assert "ssh azureuser@20." in mine.content.decode()

    sandbox.advance("PT2H")
    alice.post("/vms/refresh")
    later = alice.get("/access/")
    assert later.context["open"] == []
    assert [p.state for p in later.context["history"]] == ["Expired"]
    fresh = AzureView(sandbox, "bob")  # the first view's token expired with the clock
    assert (MY_IP, "22") not in fresh.allow_rules("Contoso Production", "rg-web", "nsg-rg-web-default")
    event = AuditEvent.objects.get(action="access.request")
    assert (
        event.outcome == "opened"
        and event.correlation_id
        and event.details["justification"] == "Deploying hotfix 4.2.2"
    )


def test_a_request_over_three_policies_is_on_the_trail_with_every_policy(alice, sandbox, view):
    """Three policy ids are longer than the trail's target column was (400): PostgreSQL refused the event with a
    500 after Azure had opened the ports, and the trail never told it."""
    from azure.mgmt.security.v2020_01_01 import models

    build_01 = view.vm_id("Contoso Development", "rg-build", "build-01")
    view.clients.security(view.sub("Contoso Development")).jit_network_access_policies.create_or_update(
        "rg-build",
        "westus2",
        "default",
        models.JitNetworkAccessPolicy(
            kind="Basic",
            virtual_machines=[
                models.JitNetworkAccessPolicyVirtualMachine(
                    id=build_01,
                    ports=[
                        models.JitNetworkAccessPortRule(
                            number=22,
                            protocol="*",
                            allowed_source_address_prefix="*",
                            max_request_access_duration="PT3H",
                        )
                    ],
                )
            ],
        ),
    )
    ids = [
        view.vm_id("Contoso Production", "rg-web", "web-02"),
        view.vm_id("Contoso Production", "rg-sql", "sql-02"),
        build_01,
    ]
    alice.post("/vms/refresh")
    assert submit(alice, fill(alice, ids)).status_code == 302
    assert AccessRequest.objects.get().status == "opened"
    event = AuditEvent.objects.get(action="access.request")
    assert len(event.target) > 400 and event.target.count("/jitNetworkAccessPolicies/") == 3


def test_a_double_submit_makes_one_request_and_one_initiate_per_policy(alice, sandbox, view):
    data = fill(alice, [view.vm_id("Contoso Production", "rg-web", "web-02")])
    sandbox.control("POST", "stats")
    first, second = submit(alice, data), submit(alice, data)
    assert first["Location"] == second["Location"]
    assert AccessRequest.objects.count() == 1 and AccessRequestItem.objects.count() == 1
    assert sandbox.control("GET", "stats")["calls"]["jit.initiate"] == 1


def test_a_window_over_the_maximum_is_refused_in_the_form(alice, sandbox, view):
    sandbox.control("POST", "stats")
    page = submit(alice, fill(alice, [view.vm_id("Contoso Production", "rg-web", "web-02")], duration_value="4"))
    assert page.status_code == 200 and "web-02 port 22 allows at most 3 h, not 4 h" in page.content.decode()
    assert AccessRequest.objects.count() == 0 and "jit.initiate" not in sandbox.control("GET", "stats")["calls"]


def test_only_a_listed_source_prefix_may_be_asked_for(alice, sandbox, view):
    security = view.clients.security(view.sub("Contoso Development"))
    target = view.vm_id("Contoso Development", "rg-build", "build-01")
    security.jit_network_access_policies.create_or_update(
        "rg-build",
        "westus2",
        "default",
        {
            "properties": {
                "virtualMachines": [
                    {
                        "id": target,
                        "ports": [
                            {
                                "number": 22,
                                "protocol": "TCP",
                                "maxRequestAccessDuration": "PT2H",
                                "allowedSourceAddressPrefixes": ["10.0.0.0/24", "10.0.1.0/24"],
                            }
                        ],
                    }
                ]
            }
        },
    )
    alice.post("/vms/refresh")
    refused = submit(alice, fill(alice, [target]))
    assert "accepts only 10.0.0.0/24, 10.0.1.0/24 as the source" in refused.content.decode()
    other = submit(alice, fill(alice, [target], source="other", other_source="10.0.0.0/25"))
    assert "accepts only" in other.content.decode()
    assert AccessRequest.objects.count() == 0
    page = alice.get("/access/new", {"vm": [target]})
    assert [c[0] for c in page.context["form"].fields["source"].choices] == [
        "my-ip",
        "10.0.0.0/24",
        "10.0.1.0/24",
        "other",
    ]
    assert submit(alice, fill(alice, [target], source="10.0.1.0/24")).status_code == 302
    assert AccessRequest.objects.get().status == "opened"


def test_a_port_azure_no_longer_has_is_refused_in_azures_words_and_kept(alice, sandbox, view):
    target = view.vm_id("Contoso Production", "rg-web", "web-02")
    data = fill(alice, [target], ports=(3389,))
    security = view.clients.security(view.sub("Contoso Production"))
    policy = security.jit_network_access_policies.get("rg-web", "westeurope", "default")
    for machine in policy.virtual_machines:
        if machine.id.endswith("/web-02"):
            machine.ports = [p for p in machine.ports if p.number != 3389]
    security.jit_network_access_policies.create_or_update("rg-web", "westeurope", "default", policy)
    response = submit(alice, data)
    detail = alice.get(response["Location"]).content.decode()
    assert "is not a subset of policy" in detail and "Refused by Azure" in detail
    item = AccessRequestItem.objects.get()
    assert item.status == "refused" and item.request.justification == "Deploying hotfix 4.2.2"


def test_a_fault_on_one_policy_leaves_the_other_vm_open_and_says_which_failed(alice, sandbox, view):
    sandbox.control(
        "POST", "faults", {"operation": "jit.initiate", "kind": "500", "count": 10, "path_contains": "rg-sql"}
    )
    ids = [view.vm_id("Contoso Production", "rg-web", "web-02"), view.vm_id("Contoso Production", "rg-sql", "sql-02")]
    response = submit(alice, fill(alice, ids))
    statuses = {i.vm_name: i.status for i in AccessRequestItem.objects.all()}
    assert statuses == {"web-02": "opened", "sql-02": "failed"}
    assert AccessRequest.objects.get().status == "partial"
    page = alice.get(response["Location"]).content.decode()
    assert "HTTP 500" in page and "The portal checked: it was not opened. Request again." in page
    assert [p.state for p in alice.get("/access/").context["history"]] == ["Open now (partly not opened)"]
    sandbox.advance("PT2H")
    alice.post("/vms/refresh")
    assert [p.state for p in alice.get("/access/").context["history"]] == ["Expired (partly not opened)"]


def test_a_requester_azure_gives_only_read_access_is_told_before_filling_the_form(portal, sandbox, view):
    sandbox.control("POST", "people/carol/roles", {"roles": ["JIT.Requester"]})  # Reader in Azure: cannot initiate
    sign_in(portal, sandbox, "carol")
    sandbox.control("POST", "stats")
    page = portal.get("/access/new", {"vm": [view.vm_id("Contoso Production", "rg-web", "web-02")]})
    assert "web-02 was left out: Azure gives you read-only access to rg-web." in page.content.decode()
    assert not page.context["rows"]
    assert "jit.initiate" not in sandbox.control("GET", "stats")["calls"]


def test_azures_403_is_shown_in_words_and_the_request_is_kept(portal, sandbox, view):
    sandbox.control("POST", "people/carol/roles", {"roles": ["JIT.Requester"]})  # Reader in Azure: cannot initiate
    # When Azure will not say what Carol may do, the portal lets Azure decide at the request.
    sandbox.control("POST", "faults", {"operation": "permissions.listForResourceGroup", "kind": "500", "count": 100})
    sign_in(portal, sandbox, "carol")
    response = submit(portal, fill(portal, [view.vm_id("Contoso Production", "rg-web", "web-02")]))
    item = AccessRequestItem.objects.get()
    assert item.status == "refused"
    assert item.message.startswith(
        "Azure refused: you lack Microsoft.Security/locations/jitNetworkAccessPolicies/"
        "initiate/action on /subscriptions/"
    )
    assert "Azure refused" in portal.get(response["Location"]).content.decode()


def test_dave_without_azure_rights_cannot_pick_a_vm_and_nothing_is_sent(portal, sandbox, view):
    sign_in(portal, sandbox, "dave")
    sandbox.control("POST", "stats")
    page = portal.get("/access/new", {"vm": [view.vm_id("Contoso Production", "rg-web", "web-02")]})
    assert "is not a virtual machine you can see" in page.content.decode()
    assert "jit.initiate" not in sandbox.control("GET", "stats")["calls"]


def test_a_vm_one_cannot_see_is_named_in_its_note_and_hostile_ids_stay_short_and_escaped(alice, view):
    unseen = view.vm_id("Contoso Shared Services", "rg-shared", "ad-01")  # outside Alice's Azure scope
    mistyped = view.vm_id("Contoso Development", "rg-build", "dev-01") + "/nope-99"
    hostile = view.vm_id("Contoso Development", "rg-build", "x" * 5000 + "<script>alert(1)</script>")
    page = alice.get("/access/new", {"vm": [unseen, mistyped, hostile]})
    notes, text = page.context["notes"], page.content.decode()
    assert notes[0] == "ad-01 in rg-shared is not a virtual machine you can see; it was left out."
    assert notes[1] == (
        "'…Microsoft.Compute/virtualMachines/dev-01/nope-99' is not a virtual machine you can see; it was left out."
    )
    assert notes[2] == (
        "'…xxxxxxxxxxxxxxxxxxxxxxx<script>alert(1)</script>' is not a virtual machine you can see; it was left out."
    )
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "x" * 100 not in text


def test_request_again_prefills_and_the_rdp_file_points_at_the_vm(alice, view):
    target = view.vm_id("Contoso Production", "rg-sql", "sql-02")
    submit(alice, fill(alice, [target], ports=(3389,), duration_value="45", duration_unit="minutes"))
    access = AccessRequest.objects.get()
    again = alice.get(f"/access/new?again={access.pk}").context["form"]
    assert (again["other_source"].value(), again["duration"].value()) == (MY_IP, timedelta(minutes=45))
    assert {c.port.number: again[c.field_name].value() for c in again.choices} == {
        22: False,
        3389: True,
        5985: False,
        5986: False,
    }
    item = access.items.get()
    rdp = alice.get(f"/access/items/{item.pk}/connect.rdp")
    assert rdp["Content-Type"] == "application/x-rdp" and 'filename="sql-02.rdp"' in rdp["Content-Disposition"]
    assert rdp.content.decode().startswith("full address:s:20.") and "username:s:azureuser" in rdp.content.decode()


def test_justification_is_required_unless_the_setting_makes_it_optional(alice, view):
    target = view.vm_id("Contoso Production", "rg-web", "web-02")
    page = submit(alice, fill(alice, [target], justification=""))
    assert page.status_code == 200 and "Say why you need access." in page.content.decode()
    with override_settings(JIT_REQUIRE_JUSTIFICATION=False):
        assert submit(alice, fill(alice, [target], justification="")).status_code == 302


def test_people_see_only_their_own_requests_and_other_roles_are_refused(alice, portal, sandbox, view):
    submit(alice, fill(alice, [view.vm_id("Contoso Production", "rg-web", "web-02")]))
    access = AccessRequest.objects.get()
    portal.post("/accounts/sign-out")
    sandbox.control("POST", "people/bob/roles", {"roles": ["JIT.Requester"]})
    sign_in(portal, sandbox, "bob")
    assert portal.get(f"/access/requests/{access.pk}/").status_code == 404
    assert portal.get(f"/access/new?again={access.pk}").status_code == 404
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "carol")
    assert portal.get("/access/new").status_code == 403 and portal.get("/access/").status_code == 403


@pytest.mark.parametrize("again", ["²", "٣", "1" * 30, "-1", ""])
def test_request_again_with_an_id_that_is_not_a_number_shows_the_empty_form(alice, again):
    page = alice.get("/access/new", {"again": again})
    assert page.status_code == 200 and not page.context["rows"]


@pytest.mark.parametrize(
    "source, error",
    [
        ("0.0.0.0/0", "0.0.0.0/0 is too broad a source for web-02 port 22"),
        ("::/0", "::/0 is too broad a source"),
        ("1.2.3.4/0", "0.0.0.0/0 is too broad a source"),
        ("10.0.0.0/23", "10.0.0.0/23 is too broad a source"),
        ("2001:db8::/63", "2001:db8::/63 is too broad a source"),
        ("::ffff:0:0/96", "::ffff:0:0/96 is too broad a source"),
        ("::fffe:0:0/95", "::fffe:0:0/95 is too broad a source"),
        ("::ffff:10.0.0.0/119", "::ffff:a00:0/119 is too broad a source"),
        ("fe80::1%eth0", "names a local network interface"),
    ],
)
def test_a_requester_cannot_open_a_port_to_a_broad_range_or_a_zone(alice, sandbox, view, source, error):
    target = view.vm_id("Contoso Production", "rg-web", "web-02")
    page = submit(alice, fill(alice, [target], source="other", other_source=source))
    assert page.status_code == 200 and error in page.content.decode()
    assert AccessRequest.objects.count() == 0 and "jit.initiate" not in sandbox.control("GET", "stats")["calls"]


def test_a_range_as_broad_as_the_settings_allow_or_listed_by_the_policy_is_accepted(alice, view):
    target = view.vm_id("Contoso Development", "rg-build", "build-01")
    for source in ("10.0.0.0/24", "2001:db8::/64", "::ffff:10.0.0.0/120"):
        page = submit(
            alice,
            fill(alice, [view.vm_id("Contoso Production", "rg-web", "web-02")], source="other", other_source=source),
        )
        assert page.status_code == 302, page.content.decode()
    security = view.clients.security(view.sub("Contoso Development"))
    security.jit_network_access_policies.create_or_update(
        "rg-build",
        "westus2",
        "default",
        {
            "properties": {
                "virtualMachines": [
                    {
                        "id": target,
                        "ports": [
                            {
                                "number": 22,
                                "protocol": "TCP",
                                "maxRequestAccessDuration": "PT2H",
                                "allowedSourceAddressPrefixes": ["0.0.0.0/0"],
                            }
                        ],
                    }
                ]
            }
        },
    )
    alice.post("/vms/refresh")
    assert submit(alice, fill(alice, [target], source="0.0.0.0/0")).status_code == 302
    with override_settings(JIT_MAX_SOURCE_PREFIX_V4=16):
        assert (
            submit(
                alice,
                fill(
                    alice,
                    [view.vm_id("Contoso Production", "rg-sql", "sql-02")],
                    source="other",
                    other_source="10.1.0.0/16",
                ),
            ).status_code
            == 302
        )


def test_my_requests_pages_past_the_newest_fifty(alice):
    from django.utils import timezone

    from accounts.models import User

    user = User.objects.get(upn="alice@contoso.test")
    now = timezone.now()
    AccessRequest.objects.bulk_create(
        AccessRequest(
            user=user,
            created=now - timedelta(minutes=n),
            idempotency_key=f"k{n}",
            source_prefix="10.0.0.1",
            duration_minutes=n + 1,
            status=RequestStatus.NOT_OPENED,
        )
        for n in range(120)
    )
    first = alice.get("/access/")
    assert [p.request.duration_minutes for p in first.context["history"]] == list(range(1, 51))
    assert first.context["history_page"].has_next()
    last = alice.get("/access/", {"page": "3"})
    assert [p.request.duration_minutes for p in last.context["history"]] == list(range(101, 121))
    for page in ("0", "x", "99"):  # Django's Paginator.get_page: the first or the last page, never an error
        assert alice.get("/access/", {"page": page}).status_code == 200


def test_an_address_typed_while_another_source_is_chosen_is_refused_not_dropped(alice, sandbox, view):
    target = view.vm_id("Contoso Production", "rg-web", "web-02")
    sandbox.control("POST", "stats")
    page = submit(alice, fill(alice, [target], source="my-ip", other_source="198.51.100.7"))
    assert page.status_code == 200
    assert f"You typed 198.51.100.7 here but chose “My IP ({MY_IP})” above" in page.content.decode()
    assert AccessRequest.objects.count() == 0 and "jit.initiate" not in sandbox.control("GET", "stats")["calls"]


def test_a_justification_pattern_is_shown_and_enforced(alice, view, settings):
    settings.JIT_JUSTIFICATION_HINT = "Start with the ticket number, e.g. OPS-123"
    settings.JIT_JUSTIFICATION_PATTERN = r"^[A-Z]+-\d+"
    target = view.vm_id("Contoso Production", "rg-web", "web-02")
    assert "Start with the ticket number, e.g. OPS-123" in alice.get("/access/new", {"vm": [target]}).content.decode()
    page = submit(alice, fill(alice, [target], justification="fixing things"))
    assert "does not have the expected form: Start with the ticket number, e.g. OPS-123." in page.content.decode()
    assert submit(alice, fill(alice, [target], justification="OPS-42 fixing things")).status_code == 302


def test_the_form_ticks_the_ports_of_my_last_request_to_a_vm(alice, view):
    target = view.vm_id("Contoso Production", "rg-web", "web-02")
    assert submit(alice, fill(alice, [target], ports=(3389,))).status_code == 302
    form = alice.get("/access/new", {"vm": [target]}).context["form"]
    assert [c.port.number for c, field, *_ in form.port_fields() if field.value()] == [3389]


def test_each_port_may_have_its_own_time_and_source_as_in_the_azure_portal(alice, sandbox, view):
    target = view.vm_id("Contoso Production", "rg-web", "web-02")
    data = fill(alice, [target], ports=(22, 3389))
    rdp = next(k for k in data if k.endswith("-3389"))
    data.update({f"{rdp}-for_value": "30", f"{rdp}-for_unit": "minutes", f"{rdp}-from": "198.51.100.7"})
    assert submit(alice, data).status_code == 302
    items = {i.port: i for i in AccessRequestItem.objects.all()}
    assert {p: (i.status, i.source_prefix) for p, i in items.items()} == {
        22: ("opened", MY_IP),
        3389: ("opened", "198.51.100.7"),
    }
    assert timedelta(minutes=29) < items[22].end - items[3389].end < timedelta(minutes=31)
    last = view.policies("Contoso Production", "rg-web", "westeurope")[0].requests[-1]
    sent = {p.number: (p.allowed_source_address_prefix, p.end_time_utc) for p in last.virtual_machines[0].ports}
    assert sent[3389][0] == "198.51.100.7" and sent[22][0] == MY_IP
    assert abs(sent[3389][1] - items[3389].end) < timedelta(seconds=2)
    mine = alice.get("/access/").content.decode()
    assert "198.51.100.7" in mine and MY_IP in mine


def test_a_vm_of_a_slow_subscription_is_waited_for_when_chosen_not_dropped(portal, sandbox, view):
    """The VM list shows a late subscription as still loading; a form for a VM of it waits for it instead of
    saying the VM cannot be seen."""
    sign_in(portal, sandbox, "alice")
    production = view.sub("Contoso Production")
    sandbox.control("POST", "latency", {"operation": "*", "ms": 1500, "path_contains": production})
    form = portal.get("/access/new", {"vm": [view.vm_id("Contoso Production", "rg-web", "web-02")]})
    assert [r.name for r in form.context["rows"]] == ["web-02"], form.context["notes"]
