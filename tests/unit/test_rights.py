"""Which VMs a person may act on, and how: only well-formed VM ids in their own inventory, and only what Azure's
rights on each VM's resource group allow (vms/rights.py)."""

from __future__ import annotations

import pytest
from django.http import Http404

from core.gateway import Permissions
from tests.unit.builders import NOW
from vms.inventory import CONFIGURED, Inventory, VmRow
from vms.rights import CONFIGURE, MAX_SELECTION, READ, REQUEST, permitted, refusals, selected_vms, vm_for, why_not

SUB = "0b1c2d3e-aaaa-4bbb-8ccc-0123456789ab"  # letters, so that a change of case shows


def _id(name: str, rg: str = "rg-Web") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


def _row(name: str, rg: str = "rg-Web") -> VmRow:
    return VmRow(_id(name, rg), name, SUB, "Contoso", rg, "westeurope", "Linux", "running", CONFIGURED)


def _inventory(*rows: VmRow, rights: dict | None = None) -> Inventory:
    return Inventory(
        rows=rows, failures=(), subscription_count=1, azure_now=NOW, fetched_at=0.0, epochs={}, rights=rights or {}
    )


WEB, DB = _row("web-01"), _row("db-01", rg="rg-Data")


def test_the_selection_keeps_the_visible_vms_once_each_in_any_case():
    rows, problems = selected_vms(
        _inventory(WEB, DB), [_id("web-01"), _id("db-01", "rg-Data").upper(), _id("web-01").lower()]
    )
    assert rows == [WEB, DB] and problems == []


def test_an_id_the_person_cannot_see_or_that_is_not_a_vm_is_left_out_and_named():
    hidden = _id("secret")
    not_a_vm = f"/subscriptions/{SUB}/resourceGroups/rg-Web/providers/Microsoft.Network/networkInterfaces/" + "n" * 60
    rows, problems = selected_vms(_inventory(WEB), [hidden, WEB.vm_id, "web-01", not_a_vm])
    assert rows == [WEB]
    assert problems == [
        "secret in rg-Web is not a virtual machine you can see; it was left out.",
        "'web-01' is not a virtual machine you can see; it was left out.",
        f"'…{not_a_vm[-48:]}' is not a virtual machine you can see; it was left out.",
    ]


def test_a_row_is_not_found_by_an_id_that_is_not_a_vms_even_when_the_inventory_knows_the_text():
    # The inventory is keyed by id; an id that is not a VM's never reaches it.
    odd = VmRow("web-01", "web-01", SUB, "Contoso", "rg-Web", "westeurope", "Linux", "running", CONFIGURED)
    rows, problems = selected_vms(_inventory(odd), ["web-01"])
    assert rows == [] and len(problems) == 1


def test_an_id_at_most_the_tail_long_is_quoted_whole():
    _, problems = selected_vms(_inventory(), ["x" * 48])
    assert problems == [f"'{'x' * 48}' is not a virtual machine you can see; it was left out."]


def test_a_selection_past_the_limit_takes_the_first_and_says_so():
    rows, problems = selected_vms(_inventory(WEB), [WEB.vm_id] * MAX_SELECTION + ["late"])
    assert rows == [WEB] and problems == [f"Only the first {MAX_SELECTION} selected VMs are taken."]
    assert selected_vms(_inventory(WEB), [WEB.vm_id] * MAX_SELECTION)[1] == []


def test_a_vm_page_finds_the_vm_by_its_names_in_any_case():
    assert vm_for(_inventory(WEB, DB), SUB.upper(), "RG-DATA", "DB-01") is DB
    for where in [
        (SUB, "rg-Web", "db-01"),
        (SUB, "rg-Data", "web-01"),
        ("11111111-2222-3333-4444-555555555555", "rg-Data", "db-01"),
    ]:
        with pytest.raises(Http404) as refused:
            vm_for(_inventory(WEB, DB), *where)
        assert str(refused.value) == "No such VM, or Azure does not let you see it."  # the 404 page shows it


def _rights(**by_group: tuple[str, ...]) -> dict:
    return {(SUB, rg.lower()): Permissions((((actions), ()),)) for rg, actions in by_group.items()}


def test_a_person_with_the_rights_azure_documents_may_act():
    inventory = _inventory(WEB, rights=_rights(**{"rg-Web": CONFIGURE + REQUEST}))
    assert why_not(inventory, WEB, CONFIGURE) == "" and why_not(inventory, WEB, REQUEST) == ""


def test_a_reader_is_told_their_access_is_read_only():
    inventory = _inventory(WEB, rights=_rights(**{"rg-Web": ("*/read",)}))
    assert why_not(inventory, WEB, REQUEST) == "Azure gives you read-only access to rg-Web"
    assert why_not(inventory, WEB, CONFIGURE) == "Azure gives you read-only access to rg-Web"


def test_a_missing_right_is_named():
    inventory = _inventory(WEB, rights=_rights(**{"rg-Web": (READ, "Microsoft.Network/*/read")}))
    assert why_not(inventory, WEB, REQUEST) == (
        "Azure does not give you Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action or "
        "Microsoft.Security/locations/jitNetworkAccessPolicies/read on rg-Web"
    )
    # Without the VM's read right it is not read-only access: every missing right is named.
    inventory = _inventory(WEB, rights=_rights(**{"rg-Web": ("Microsoft.Security/*",)}))
    assert why_not(inventory, WEB, REQUEST) == (
        "Azure does not give you Microsoft.Compute/virtualMachines/read or Microsoft.Network/networkInterfaces/read "
        "or Microsoft.Network/publicIPAddresses/read on rg-Web"
    )


def test_a_reader_missing_only_some_write_is_told_which():
    # Reading everything but initiating: read-only only when every write it needs is missing.
    inventory = _inventory(WEB, rights=_rights(**{"rg-Web": ("*/read", "Microsoft.Security/*/initiate/action")}))
    assert why_not(inventory, WEB, CONFIGURE) == "Azure gives you read-only access to rg-Web"
    inventory = _inventory(WEB, rights=_rights(**{"rg-Web": ("*/read", "Microsoft.Compute/*/write")}))
    assert why_not(inventory, WEB, CONFIGURE) == (
        "Azure does not give you Microsoft.Security/locations/jitNetworkAccessPolicies/write on rg-Web"
    )


def test_rights_azure_would_not_tell_are_left_to_azure():
    assert why_not(_inventory(WEB), WEB, CONFIGURE) == ""


def test_the_rows_a_person_may_act_on_and_why_not_the_others():
    inventory = _inventory(WEB, DB, rights=_rights(**{"rg-Web": CONFIGURE, "rg-Data": ("*/read",)}))
    assert permitted(inventory, [WEB, DB], CONFIGURE) == ([WEB], [(DB, "Azure gives you read-only access to rg-Data")])


def test_the_reasons_for_several_vms_are_said_once_each_naming_their_groups_together():
    web2, data, other = _row("web-02"), _row("db-01", rg="rg-Data"), _row("x", rg="Zeta")
    inventory = _inventory(
        WEB, web2, data, other, rights=_rights(**{"rg-Web": ("*/read",), "rg-Data": ("*/read",), "Zeta": ("*/read",)})
    )
    assert refusals(inventory, [WEB, web2, data, other], [("Edit", CONFIGURE), ("Request", REQUEST)]) == [
        "Edit: Azure gives you read-only access to rg-Data, rg-Web and Zeta.",  # in the order people read names
        "Request: Azure gives you read-only access to rg-Data, rg-Web and Zeta.",
    ]
    assert refusals(inventory, [WEB], [("", CONFIGURE)]) == ["Azure gives you read-only access to rg-Web."]
    allowed = _inventory(WEB, rights=_rights(**{"rg-Web": CONFIGURE}))
    assert refusals(allowed, [WEB], [("Edit", CONFIGURE)]) == []
    mixed = _inventory(WEB, data, rights=_rights(**{"rg-Web": ("*/read",), "rg-Data": ("Microsoft.Security/*",)}))
    assert refusals(mixed, [WEB, data], [("Edit", CONFIGURE)]) == [
        "Edit: Azure does not give you Microsoft.Compute/virtualMachines/write on rg-Data.",
        "Edit: Azure gives you read-only access to rg-Web.",
    ]
