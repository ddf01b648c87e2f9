"""Azure RBAC as the sandbox plays it: role definitions with real action strings, checked per scope."""

from __future__ import annotations

import re
from functools import cache

from . import demo

JIT = "Microsoft.Security/locations/jitNetworkAccessPolicies"

COMPUTE_WRITE = "Microsoft.Compute/virtualMachines/write"
# Role definitions as (actions, notActions), as Azure's built-in roles have them (only the entries that matter
# here; the real ones have more), plus the custom role Microsoft's JIT documentation describes for requesters.
ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Owner": (("*",), ()),
    "Contributor": (
        ("*",),
        (
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
        ),
    ),
    "Reader": (("*/read",), ()),
    "Security Reader": (
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Security/*/read",
            "Microsoft.Support/*/read",
        ),
        (),
    ),
    "Security Admin": (
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Security/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Support/*",
        ),
        (),
    ),
    "Virtual Machine Contributor": (
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.Compute/virtualMachines/*",
            "Microsoft.Compute/availabilitySets/*",
            "Microsoft.Network/networkInterfaces/*",
            "Microsoft.Network/networkSecurityGroups/join/action",
            "Microsoft.Network/networkSecurityGroups/read",
            "Microsoft.Network/publicIPAddresses/join/action",
            "Microsoft.Network/publicIPAddresses/read",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Insights/alertRules/*",
        ),
        (),
    ),
    "Network Contributor": (
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Network/*",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ),
        (),
    ),
    "JIT VM Access Requester": (
        (
            f"{JIT}/initiate/action",
            f"{JIT}/*/read",
            "Microsoft.Compute/virtualMachines/read",
            "Microsoft.Network/networkInterfaces/*/read",
            "Microsoft.Network/publicIPAddresses/read",
        ),
        (),
    ),
}


@cache
def _pattern(action_pattern: str) -> re.Pattern[str]:
    # "/*/" also matches a single "/", so "…/policies/*/read" covers "…/policies/read" as in Azure.
    escaped = re.escape(action_pattern).replace("/\\*/", "(?:/.*)?/").replace("\\*", ".*")
    return re.compile(f"^{escaped}$", re.IGNORECASE)


def role_allows(role: str, action: str) -> bool:
    """As ARM: some action matches and none of the same definition's notActions does."""
    actions, not_actions = ROLES.get(role, ((), ()))
    return any(_pattern(p).match(action) for p in actions) and not any(_pattern(p).match(action) for p in not_actions)


@cache
def holders(principal: str) -> frozenset[str]:
    """The principal and the groups it is a member of: a role assigned to any of them holds for it."""
    return frozenset(
        {
            principal,
            *(g.object_id for g in demo.GROUPS if any(demo.person(m).object_id == principal for m in g.members)),
        }
    )


def holds(assignment: dict, principal: str) -> bool:
    return assignment["principalId"] in holders(principal)


def permissions(assignments: list[dict], principal: str, scope: str) -> list[dict]:
    """Microsoft.Authorization/permissions at `scope`: one entry per role assigned there or above."""
    return [
        {
            "actions": list(ROLES.get(a["role"], ((), ()))[0]),
            "notActions": list(ROLES.get(a["role"], ((), ()))[1]),
            "dataActions": [],
            "notDataActions": [],
        }
        for a in assignments
        if holds(a, principal) and scope_covers(a["scope"], scope)
    ]


def scope_covers(assignment_scope: str, scope: str) -> bool:
    outer, inner = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return inner == outer or inner.startswith(outer + "/")


def allowed(assignments: list[dict], principal: str, action: str, scope: str) -> bool:
    return any(
        holds(a, principal) and scope_covers(a["scope"], scope) and role_allows(a["role"], action) for a in assignments
    )


def readable(assignments: list[dict], principal: str, action: str, scope: str) -> tuple[bool, set[str]]:
    """Where the principal may do `action` within `scope`: (everywhere in it, the lower-case scopes below it
    where a role allows it). ARM's subscription-wide lists and Resource Graph's rows both filter by this."""
    if allowed(assignments, principal, action, scope):
        return True, set()
    return False, {
        a["scope"].lower()
        for a in assignments
        if holds(a, principal) and scope_covers(scope, a["scope"]) and role_allows(a["role"], action)
    }


def granting_role(assignments: list[dict], principal: str, action: str, scope: str) -> str:
    """The first role assigned to the principal that allows the action at the scope ("" when none does)."""
    return next(
        (
            a["role"]
            for a in assignments
            if holds(a, principal) and scope_covers(a["scope"], scope) and role_allows(a["role"], action)
        ),
        "",
    )


def denied_message(username: str, principal: str, action: str, scope: str) -> str:
    return (
        f"The client '{username}' with object id '{principal}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
        "granted, please refresh your credentials."
    )
