"""Azure RBAC as the sandbox plays it: role definitions with real action strings, checked per scope."""

from __future__ import annotations

import re
from functools import cache

JIT = "Microsoft.Security/locations/jitNetworkAccessPolicies"

# Only the actions that matter here; the real built-in roles have more.
ROLES: dict[str, tuple[str, ...]] = {
    "Owner": ("*",),
    "Contributor": ("*",),
    "Reader": ("*/read",),
    "Security Reader": ("*/read",),
    "Security Admin": (
        "Microsoft.Authorization/*/read",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Security/*",
        "Microsoft.Insights/alertRules/*",
    ),
    "JIT VM Access Requester": (
        f"{JIT}/initiate/action",
        f"{JIT}/*/read",
        "Microsoft.Compute/virtualMachines/read",
        "Microsoft.Network/networkInterfaces/*/read",
        "Microsoft.Network/publicIPAddresses/read",
    ),
}


@cache
def _pattern(action_pattern: str) -> re.Pattern[str]:
    # "/*/" also matches a single "/", so "…/policies/*/read" covers "…/policies/read" as in Azure.
    escaped = re.escape(action_pattern).replace("/\\*/", "(?:/.*)?/").replace("\\*", ".*")
    return re.compile(f"^{escaped}$", re.IGNORECASE)


def role_allows(role: str, action: str) -> bool:
    return any(_pattern(p).match(action) for p in ROLES.get(role, ()))


def scope_covers(assignment_scope: str, scope: str) -> bool:
    outer, inner = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return inner == outer or inner.startswith(outer + "/")


def allowed(assignments: list[dict], principal: str, action: str, scope: str) -> bool:
    return any(
        a["principalId"] == principal and scope_covers(a["scope"], scope) and role_allows(a["role"], action)
        for a in assignments
    )


def granting_role(assignments: list[dict], principal: str, action: str, scope: str) -> str:
    """The first role assigned to the principal that allows the action at the scope ("" when none does)."""
    return next((a["role"] for a in assignments if a["principalId"] == principal
                 and scope_covers(a["scope"], scope) and role_allows(a["role"], action)), "")


def denied_message(username: str, principal: str, action: str, scope: str) -> str:
    return (
        f"The client '{username}' with object id '{principal}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
        "granted, please refresh your credentials."
    )
