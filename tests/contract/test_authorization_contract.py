"""Role assignments and role definitions through ARM (Microsoft.Authorization 2022-04-01), read with the real
azure-mgmt-authorization client: the shapes of Microsoft's spec examples (shared/azure-spec-examples/
authorization), the documented `$filter` forms, and answers that agree with what the sandbox enforces."""

from __future__ import annotations

import pytest

from sandbox import demo

pytestmark = pytest.mark.integration

INITIATE = "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def test_assignments_at_a_subscription_hold_those_below_and_name_built_in_roles_by_microsofts_ids(clients_for, subs):
    client = clients_for("bob").authorization(subs["shared"])
    found = list(client.role_assignments.list_for_subscription())
    grace = [a for a in found if a.principal_id == demo.person("grace").object_id]
    assert [(a.scope, a.principal_type) for a in grace] == [
        (f"/subscriptions/{subs['shared']}/resourceGroups/rg-shared", "User")
    ]
    assert grace[0].role_definition_id == (
        f"/subscriptions/{subs['shared']}/providers/Microsoft.Authorization/roleDefinitions/{READER}"
    )
    assert grace[0].id.startswith(
        f"/subscriptions/{subs['shared']}/resourceGroups/rg-shared/providers/Microsoft.Authorization/roleAssignments/"
    )


def test_at_scope_leaves_out_what_is_below_and_principal_id_keeps_one_principal(clients_for, subs):
    client = clients_for("bob").authorization(subs["shared"])
    scope = f"/subscriptions/{subs['shared']}"
    at = list(client.role_assignments.list_for_scope(scope, filter="atScope()"))
    assert at and all(a.scope == scope for a in at)
    group = f"{scope}/resourceGroups/rg-shared"
    grace = list(
        client.role_assignments.list_for_scope(group, filter=f"principalId eq '{demo.person('grace').object_id}'")
    )
    assert [a.scope for a in grace] == [group]


def test_assigned_to_follows_group_membership_and_groups_are_listed_as_groups(clients_for, subs):
    client = clients_for("bob").authorization(subs["dev"])
    alice = demo.person("alice").object_id
    oncall = demo.GROUPS[0].object_id
    mine = list(
        client.role_assignments.list_for_scope(
            f"/subscriptions/{subs['dev']}", filter=f"atScope() and assignedTo('{alice}')"
        )
    )
    assert {a.principal_id for a in mine} == {alice, oncall}
    assert {a.principal_type for a in mine if a.principal_id == oncall} == {"Group"}


def test_role_definitions_list_get_and_get_by_id(clients_for, subs):
    client = clients_for("bob").authorization(subs["prod"])
    scope = f"/subscriptions/{subs['prod']}"
    listed = {d.role_name: d for d in client.role_definitions.list(scope)}
    assert {"Owner", "Contributor", "Reader", "Security Admin", "JIT VM Access Requester"} <= set(listed)
    requester = listed["JIT VM Access Requester"]
    assert requester.role_type == "CustomRole" and requester.assignable_scopes
    assert INITIATE in requester.permissions[0].actions
    assert listed["Contributor"].permissions[0].not_actions  # notActions travel with the definition
    custom = list(client.role_definitions.list(scope, filter="type eq 'CustomRole'"))
    assert [d.role_name for d in custom] == ["JIT VM Access Requester"]
    reader = client.role_definitions.get(scope, READER)
    assert reader.role_name == "Reader" and reader.role_type == "BuiltInRole"
    by_id = client.role_definitions.get_by_id(f"/providers/Microsoft.Authorization/roleDefinitions/{READER}")
    assert by_id.id == f"/providers/Microsoft.Authorization/roleDefinitions/{READER}"
    assert by_id.permissions[0].actions == ["*/read"]


def test_listing_assignments_needs_the_read_right_and_an_unknown_filter_is_refused(clients_for, subs):
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as refused:
        list(clients_for("dave").authorization(subs["prod"]).role_assignments.list_for_subscription())
    assert refused.value.status_code == 403
    with pytest.raises(HttpResponseError) as bad:
        list(
            clients_for("bob")
            .authorization(subs["prod"])
            .role_assignments.list_for_subscription(filter="roleName eq 'Owner'")
        )
    assert bad.value.status_code == 400


def test_what_arm_lists_is_what_the_sandbox_enforces(clients_for, subs):
    """Everyone whom the listed assignments and definitions let initiate on Production can, and nobody else."""
    from azure.core.exceptions import HttpResponseError

    client = clients_for("bob").authorization(subs["prod"])
    scope = f"/subscriptions/{subs['prod']}/resourceGroups/rg-web"
    definitions = {d.id.rsplit("/", 1)[-1]: d for d in client.role_definitions.list(scope)}
    initiators = {
        a.principal_id
        for a in client.role_assignments.list_for_scope(scope, filter="atScope()")
        if any(
            INITIATE.startswith(p.rstrip("*")) and p.endswith("*") or p == INITIATE
            for p in definitions[a.role_definition_id.rsplit("/", 1)[-1]].permissions[0].actions
        )
    }
    assert {demo.person(k).object_id for k in ("alice", "bob", "hana")} == initiators
    for person in demo.PEOPLE:
        security = clients_for(person.key).security(subs["prod"])
        try:
            security.jit_network_access_policies.initiate(
                "rg-web",
                "westeurope",
                "default",
                {
                    "virtual_machines": [
                        {
                            "id": f"/subscriptions/{subs['prod']}/resourceGroups/rg-web/providers/"
                            "Microsoft.Compute/virtualMachines/nope",
                            "ports": [],
                        }
                    ]
                },
            )
            allowed = True
        except HttpResponseError as error:
            allowed = error.status_code != 403
        assert allowed == (person.object_id in initiators), person.key
