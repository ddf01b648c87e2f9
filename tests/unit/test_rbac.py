"""Azure RBAC as both sides evaluate it: the sandbox's role assignments per scope (sandbox/rbac.py) and the portal's
reading of ARM's permissions answer (core/gateway/permissions.py). Wildcards, notActions and scopes as ARM has them."""

from __future__ import annotations

import pytest

from core.gateway import permissions as portal
from core.gateway.permissions import UNKNOWN, Permissions, read_permissions
from sandbox import demo, rbac

SUB = "/subscriptions/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab"
GROUP = f"{SUB}/resourceGroups/rg-web"
VM_READ, VM_WRITE = "Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/write"
JIT_READ, INITIATE = f"{rbac.JIT}/read", f"{rbac.JIT}/initiate/action"


def _assigned(role: str, scope: str = GROUP, principal: str = "alice-id") -> dict:
    return {"principalId": principal, "role": role, "scope": scope}


@pytest.mark.parametrize(
    "pattern, action, matches",
    [
        ("*", VM_WRITE, True),
        ("*/read", VM_READ, True),
        ("*/read", VM_WRITE, False),
        ("Microsoft.Compute/virtualMachines/*", VM_WRITE, True),
        ("Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/disks/write", False),
        # "/*/" may stand for a single "/": the requester role's "…/policies/*/read" covers "…/policies/read".
        (f"{rbac.JIT}/*/read", JIT_READ, True),
        (f"{rbac.JIT}/*/read", f"{rbac.JIT}/x/y/read", True),
        (f"{rbac.JIT}/*/read", f"{rbac.JIT}/write", False),
        ("microsoft.compute/VIRTUALMACHINES/read", VM_READ, True),  # actions are compared without case
        (VM_READ, VM_READ + "x", False),  # the whole action, not a prefix of it
        (VM_READ, "x" + VM_READ, False),
        ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachinesXread", False),  # "." "/" literal
    ],
)
def test_an_action_pattern_matches_as_arm_reads_wildcards(pattern, action, matches):
    assert bool(rbac._pattern(pattern).match(action)) is matches
    assert bool(portal._pattern(pattern).match(action)) is matches


@pytest.mark.parametrize(
    "role, action, allowed",
    [
        ("Owner", "Microsoft.Authorization/roleAssignments/write", True),
        ("Contributor", VM_WRITE, True),
        ("Contributor", "Microsoft.Authorization/roleAssignments/write", False),  # taken away by its notActions
        ("Contributor", "Microsoft.Authorization/locks/delete", False),
        ("Contributor", "Microsoft.Authorization/elevateAccess/Action", False),
        ("Reader", VM_READ, True),
        ("Reader", VM_WRITE, False),
        ("Security Reader", JIT_READ, True),
        ("Security Reader", INITIATE, False),
        ("Security Admin", f"{rbac.JIT}/write", True),
        ("Security Admin", VM_WRITE, False),  # so configuring JIT needs a second role, as in Azure
        ("Virtual Machine Contributor", VM_WRITE, True),
        ("Virtual Machine Contributor", f"{rbac.JIT}/write", False),
        ("JIT VM Access Requester", INITIATE, True),
        ("JIT VM Access Requester", JIT_READ, True),
        ("JIT VM Access Requester", "Microsoft.Network/networkInterfaces/ipconfigurations/read", True),
        ("JIT VM Access Requester", f"{rbac.JIT}/write", False),
        ("JIT VM Access Requester", VM_WRITE, False),
        ("No such role", VM_READ, False),
    ],
)
def test_a_role_allows_what_its_actions_give_less_its_not_actions(role, action, allowed):
    assert rbac.role_allows(role, action) is allowed


@pytest.mark.parametrize(
    "assignment_scope, scope, covers",
    [
        (SUB, GROUP, True),
        (SUB + "/", GROUP, True),
        (GROUP, GROUP + "/", True),
        (GROUP, GROUP.upper(), True),
        (GROUP, f"{GROUP}/providers/Microsoft.Compute/virtualMachines/web-01", True),
        (GROUP, SUB, False),  # a group's role says nothing of the subscription above it
        (GROUP, f"{SUB}/resourceGroups/rg-web2", False),  # a longer name is another group, not one inside
        (f"{SUB}/resourceGroups/rg-other", GROUP, False),
        (f"{SUB}/resourceGroups/BOX", f"{SUB}/resourceGroups/BO", False),  # names compared whole, to the last letter
        (f"{SUB}/resourceGroups/BO", f"{SUB}/resourceGroups/BOX", False),
        (GROUP, GROUP + " ", False),  # only a trailing "/" is dropped: a name that looks the same is another scope
    ],
)
def test_a_role_assigned_at_a_scope_reaches_it_and_below(assignment_scope, scope, covers):
    assert rbac.scope_covers(assignment_scope, scope) is covers


def test_an_action_is_allowed_by_some_role_of_the_principal_at_the_scope_or_above():
    assignments = [
        _assigned("Reader", SUB),
        _assigned("Virtual Machine Contributor", GROUP),
        _assigned("Owner", GROUP, principal="bob-id"),
    ]
    assert rbac.allowed(assignments, "alice-id", VM_WRITE, GROUP)
    assert rbac.allowed(assignments, "alice-id", VM_READ, f"{SUB}/resourceGroups/rg-db")  # Reader from above
    assert not rbac.allowed(assignments, "alice-id", VM_WRITE, f"{SUB}/resourceGroups/rg-db")
    assert not rbac.allowed(assignments, "alice-id", f"{rbac.JIT}/write", GROUP)  # Bob's Owner is not hers
    assert rbac.granting_role(assignments, "alice-id", VM_WRITE, GROUP) == "Virtual Machine Contributor"
    assert rbac.granting_role(assignments, "alice-id", VM_READ, GROUP) == "Reader"  # the first that allows it
    assert rbac.granting_role(assignments, "alice-id", f"{rbac.JIT}/write", GROUP) == ""
    assert rbac.granting_role(assignments, "bob-id", VM_WRITE, f"{SUB}/resourceGroups/rg-db") == ""


def test_the_permissions_answer_has_a_block_per_role_assigned_at_the_scope_or_above():
    assignments = [
        _assigned("Reader", SUB),
        _assigned("Contributor", f"{SUB}/resourceGroups/rg-db"),
        _assigned("Owner", GROUP, principal="bob-id"),
    ]
    assert rbac.permissions(assignments, "alice-id", GROUP) == [
        {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}
    ]
    contributor = rbac.permissions(assignments, "alice-id", f"{SUB}/resourceGroups/rg-db")[1]
    assert contributor["actions"] == ["*"] and "Microsoft.Authorization/*/Write" in contributor["notActions"]
    assert rbac.permissions([_assigned("No such role")], "alice-id", GROUP) == [
        {"actions": [], "notActions": [], "dataActions": [], "notDataActions": []}
    ]


def test_a_refusal_says_who_what_and_where_as_arm_does():
    assert rbac.denied_message("alice@contoso.com", "alice-id", VM_WRITE, GROUP) == (
        f"The client 'alice@contoso.com' with object id 'alice-id' does not have authorization to perform action "
        f"'{VM_WRITE}' over scope '{GROUP}' or the scope is invalid. If access was recently granted, please refresh "
        "your credentials."
    )


def test_the_portal_allows_an_action_some_block_gives_and_its_own_not_actions_do_not_take():
    contributor = (("*",), ("Microsoft.Authorization/*/Write",))
    rights = Permissions((contributor,))
    assert rights.allows(VM_WRITE)
    assert not rights.allows("Microsoft.Authorization/roleAssignments/write")
    # Another block's notActions take nothing from this one: Owner still writes role assignments.
    assert Permissions((contributor, (("*",), ()))).allows("Microsoft.Authorization/roleAssignments/write")
    assert not Permissions((((VM_READ,), ()),)).allows(VM_WRITE)
    assert not Permissions(()).allows(VM_READ)  # no role at the scope: nothing


def test_when_azure_would_not_say_the_portal_lets_azure_decide():
    assert UNKNOWN.allows(VM_WRITE) and not UNKNOWN.known


def test_the_portal_reads_its_rights_from_arms_permissions_api(monkeypatch):
    asked = []

    def try_list(credential, path, params, what, subscription_id):
        asked.append((credential, path, params, what, subscription_id))
        return [{"actions": ["*/read"], "notActions": None}, {"actions": None, "notActions": [VM_READ]}], None

    monkeypatch.setattr(portal, "try_list", try_list)
    rights = read_permissions("alice's credential", "sub-1", "rg-web")
    assert rights == Permissions(((("*/read",), ()), ((), (VM_READ,))))
    assert asked == [
        (
            "alice's credential",
            "/subscriptions/sub-1/resourceGroups/rg-web/providers/Microsoft.Authorization/permissions",
            {"api-version": "2022-04-01"},
            "your rights in rg-web",
            "sub-1",
        )
    ]


def test_rights_azure_would_not_read_are_unknown(monkeypatch):
    monkeypatch.setattr(portal, "try_list", lambda *args: portal.GatewayError("no"))
    assert read_permissions(None, "sub-1", "rg-web") is UNKNOWN


def test_a_role_assigned_to_a_group_holds_for_its_members_only():
    oncall, alice, bob = demo.GROUPS[0].object_id, demo.person("alice").object_id, demo.person("bob").object_id
    assert rbac.holders(alice) == frozenset({alice, oncall}) and rbac.holders(bob) == frozenset({bob})
    assignments = [_assigned("JIT VM Access Requester", principal=oncall)]
    assert rbac.allowed(assignments, alice, INITIATE, GROUP) and not rbac.allowed(assignments, bob, INITIATE, GROUP)
    assert rbac.granting_role(assignments, alice, INITIATE, GROUP) == "JIT VM Access Requester"
    assert len(rbac.permissions(assignments, alice, GROUP)) == 1 and rbac.permissions(assignments, bob, GROUP) == []


def test_the_portal_reads_its_rights_at_the_subscription_when_no_group_is_named(monkeypatch):
    asked = []
    monkeypatch.setattr(portal, "try_list", lambda *args: asked.append(args) or ([], None))
    assert read_permissions("cred", "sub-1", "") == Permissions(())
    assert asked == [
        (
            "cred",
            "/subscriptions/sub-1/providers/Microsoft.Authorization/permissions",
            {"api-version": "2022-04-01"},
            "your rights in the subscription",
            "sub-1",
        )
    ]
