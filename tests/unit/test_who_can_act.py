"""Which principals Azure lets perform an action in a scope, from role assignments and definitions alone
(`RoleCatalog.holders`): ARM's matching (wildcards, `/*/`, case), notActions in the same block only, and
assignments at, above and below the scope. Table-driven; the cases with built-in roles use the actions
Microsoft publishes for them (shared/azure-spec-examples/authorization/from-docs)."""

from __future__ import annotations

import pytest

from core.gateway import Permissions, RoleAssignment, RoleCatalog, RoleDefinition

SUB = "00000000-0000-4000-8000-000000000001"
INITIATE = "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action"
WRITE = "Microsoft.Security/locations/jitNetworkAccessPolicies/write"

ROLES = {
    "owner": ("Owner", (("*",), ())),
    "contributor": ("Contributor", (("*",), ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"))),
    "reader": ("Reader", (("*/read",), ())),
    "secadmin": (
        "Security Admin",
        (("Microsoft.Authorization/*/read", "Microsoft.Security/*", "Microsoft.Support/*"), ()),
    ),
    "vmcontrib": (
        "Virtual Machine Contributor",
        (("Microsoft.Compute/virtualMachines/*", "Microsoft.Network/networkInterfaces/*"), ()),
    ),
    "requester": (
        "JIT VM Access Requester",
        ((INITIATE, "Microsoft.Security/locations/jitNetworkAccessPolicies/*/read"), ()),
    ),
    "no-jit": (
        "Security, but no JIT",
        (("Microsoft.Security/*",), ("Microsoft.Security/locations/jitNetworkAccessPolicies/*",)),
    ),
    "no-initiate-lower": (
        "Lower-case notAction",
        (("*",), ("microsoft.security/locations/jitnetworkaccesspolicies/initiate/action",)),
    ),
    "jit-star": ("JIT wildcard", (("Microsoft.Security/locations/jitNetworkAccessPolicies/*",), ())),
    "star-action": ("Any action", (("*/action",), ())),
    "reads-only-jit": ("JIT reader", (("Microsoft.Security/locations/jitNetworkAccessPolicies/*/read",), ())),
}


def catalog(*assignments: tuple[str, str, str], extra_blocks: dict | None = None) -> RoleCatalog:
    definitions = {key: RoleDefinition(key, name, Permissions((blocks,))) for key, (name, blocks) in ROLES.items()}
    for key, (name, blocks) in (extra_blocks or {}).items():
        definitions[key] = RoleDefinition(key, name, Permissions(blocks))
    return RoleCatalog(
        SUB,
        tuple(
            RoleAssignment(p, "Group" if p.startswith("g-") else "User", scope, role) for p, role, scope in assignments
        ),
        definitions,
    )


S = f"/subscriptions/{SUB}"
RG = f"{S}/resourceGroups/rg-web"
OTHER_RG = f"{S}/resourceGroups/rg-sql"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/web-01"


@pytest.mark.parametrize(
    ("role", "grants"),
    [
        ("owner", True),
        ("contributor", True),
        ("reader", False),
        ("secadmin", True),
        ("vmcontrib", False),
        ("requester", True),
        ("no-jit", False),
        ("no-initiate-lower", False),
        ("jit-star", True),
        ("star-action", True),
        ("reads-only-jit", False),
    ],
)
def test_a_role_grants_initiate_as_its_actions_and_not_actions_say(role, grants):
    assert bool(catalog(("p", role, S)).holders(INITIATE)) is grants


def test_not_actions_only_take_away_within_their_own_block_and_another_role_still_grants():
    split = {
        "split": ("Two blocks", ((("Microsoft.Security/*",), (INITIATE,)), ((INITIATE,), ()))),
        "alone": ("Taken away", ((("Microsoft.Security/*",), (INITIATE,)),)),
    }
    assert catalog(("p", "split", S), extra_blocks=split).holders(INITIATE)
    assert not catalog(("p", "alone", S), extra_blocks=split).holders(INITIATE)
    assert catalog(("p", "alone", S), ("p", "requester", RG), extra_blocks=split).holders(INITIATE, "rg-web")


@pytest.mark.parametrize(
    ("assigned_at", "asked_group", "found", "covers_all"),
    [
        (S, "", True, True),  # at the subscription, asked at the subscription
        (S, "rg-web", True, True),  # above the group
        (RG, "rg-web", True, True),  # at the group
        (RG, "", True, False),  # below the subscription: part of it
        (VM, "rg-web", True, False),  # on one VM: below the group
        (OTHER_RG, "rg-web", False, False),  # a sibling group: not in scope
        ("/", "rg-web", True, True),  # the root (a management group or tenant root above everything)
        (f"{S}/resourceGroups/RG-WEB", "rg-web", True, True),  # ids compare without case
        (f"{S}/resourceGroups/rg-web2", "rg-web", False, False),  # a prefix of a name is not a parent
    ],
)
def test_assignments_at_above_and_below_the_scope(assigned_at, asked_group, found, covers_all):
    holders = catalog(("p", "requester", assigned_at)).holders(INITIATE, asked_group)
    assert bool(holders) is found
    if found:
        assert holders[0].covers_all is covers_all and holders[0].scope == assigned_at


def test_an_assignment_to_a_role_whose_definition_is_unknown_counts_as_able():
    holders = catalog(("p", "deleted-or-unreadable", S)).holders(INITIATE)
    assert [h.role for h in holders] == ["an unknown role (deleted-or-unreadable)"]


def test_groups_are_kept_as_groups_and_each_granting_assignment_is_listed():
    holders = catalog(
        ("g-oncall", "requester", RG),
        ("alice", "reader", S),
        ("alice", "requester", S),
        ("bob", "secadmin", S),
        ("bob", "contributor", S),
    ).holders(INITIATE, "rg-web")
    assert [(h.principal_id, h.principal_type, h.role) for h in holders] == [
        ("g-oncall", "Group", "JIT VM Access Requester"),
        ("alice", "User", "JIT VM Access Requester"),
        ("bob", "User", "Security Admin"),
        ("bob", "User", "Contributor"),
    ]


def test_write_and_initiate_are_told_apart():
    both = catalog(("bob", "secadmin", S), ("alice", "requester", S))
    assert [h.principal_id for h in both.holders(WRITE)] == ["bob"]
    assert [h.principal_id for h in both.holders(INITIATE)] == ["bob", "alice"]


@pytest.mark.parametrize(
    ("scope", "words"),
    [
        (S, "Contoso Test"),
        (RG, "Contoso Test / rg-web"),
        (VM, "Contoso Test / rg-web/providers/Microsoft.Compute/virtualMachines/web-01"),
        (
            "/providers/Microsoft.Management/managementGroups/contoso",
            "/providers/Microsoft.Management/managementGroups/contoso",
        ),
        ("/", "/"),
    ],
)
def test_where_an_assignment_is_said_in_words(scope, words):
    from requests_app.enforcement import _where

    assert _where(scope, SUB, {SUB: "Contoso Test"}) == words
