"""ARM ids: strict where they reach a URL, read with azure-mgmt-core where Azure wrote them."""

from __future__ import annotations

import pytest

from core.gateway.ids import parse_policy_id, parse_vm_id, resource_group_of, scopes_in, subscription_of

SUB = "11111111-2222-4333-8444-555555555555"
VM = f"/subscriptions/{SUB}/resourceGroups/rg-Web/providers/Microsoft.Compute/virtualMachines/web-01"
POLICY = (f"/subscriptions/{SUB.upper()}/resourceGroups/rg-web/providers/Microsoft.Security/locations/westeurope/"
          "jitNetworkAccessPolicies/default")


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
