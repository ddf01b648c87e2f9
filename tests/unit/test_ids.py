"""ARM ids: strict where they reach a URL, read with azure-mgmt-core where Azure wrote them."""

from __future__ import annotations

import pytest

from core.gateway.ids import parse_policy_id, parse_vm_id, resource_group_of, scopes_in, subscription_of

SUB = "0b1c2d3e-aaaa-4bbb-8ccc-0123456789ab"  # letters, so that a change of case shows
VM = f"/subscriptions/{SUB}/resourceGroups/rg-Web/providers/Microsoft.Compute/virtualMachines/web-01"
POLICY = (
    f"/subscriptions/{SUB.upper()}/resourceGroups/rg-web/providers/Microsoft.Security/locations/westeurope/"
    "jitNetworkAccessPolicies/default"
)


def test_it_reads_the_subscription_and_resource_group_of_an_id_azure_wrote():
    assert subscription_of(POLICY) == SUB
    assert resource_group_of(VM) == "rg-Web"


def test_it_finds_every_scope_a_trail_target_names():
    assert scopes_in(f"{VM} {POLICY}, approval rule 3") == {(SUB, "rg-web")}
    assert scopes_in("approval rule 3") == set()


@pytest.mark.parametrize("value", [VM + "/../x", VM + "?api-version=1", VM.replace(SUB, "not-a-guid"), "", VM + "/"])
def test_a_vm_id_that_could_smuggle_a_path_is_refused(value):
    assert parse_vm_id(value) is None


def test_a_policy_id_is_read_whole():
    ref = parse_policy_id(POLICY)
    assert (ref.subscription_id, ref.resource_group, ref.location, ref.name) == (SUB, "rg-web", "westeurope", "default")
    assert parse_policy_id(POLICY + "/initiate") is None


def test_a_vm_id_is_read_into_its_subscription_group_and_name():
    assert parse_vm_id(VM) == (SUB, "rg-Web", "web-01")
    assert parse_vm_id(VM.replace(SUB, SUB.upper())) == (SUB, "rg-Web", "web-01")  # the subscription keyed lower case
    assert parse_vm_id(VM.lower()) == (SUB, "rg-web", "web-01")  # ARM's ids are not case-sensitive
    assert parse_vm_id(None) is None


def test_a_policy_id_keys_its_subscription_and_location_lower_case():
    ref = parse_policy_id(POLICY.replace("westeurope", "WestEurope").replace("rg-web", "rg-Web"))
    assert (ref.subscription_id, ref.resource_group, ref.location) == (SUB, "rg-Web", "westeurope")
    assert ref.label == "JIT policy 'default' of rg-Web in westeurope"
    assert parse_policy_id(POLICY).policy_id == POLICY.replace(SUB.upper(), SUB)
    assert parse_policy_id(None) is None and parse_policy_id("") is None


def test_an_id_without_a_subscription_or_group_reads_as_blank():
    assert subscription_of("/providers/Microsoft.Security/pricings/VirtualMachines") == ""
    assert resource_group_of(f"/subscriptions/{SUB}") == ""


def test_scopes_are_keyed_lower_case():
    assert scopes_in(VM.replace(SUB, SUB.upper())) == {(SUB, "rg-web")}
