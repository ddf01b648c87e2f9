"""Microsoft.Authorization role assignments and role definitions through ARM (2022-04-01), rendered from the
sandbox's own RBAC (`rbac.ROLES` and the world's assignments), so what ARM lists is what the sandbox enforces.

Shapes as Microsoft's spec examples and docs show them (shared/azure-spec-examples/authorization): built-in
roles keep Microsoft's ids; a role definition id is subscription-rooted in answers at a subscription or below.
"""

from __future__ import annotations

import re

from . import demo, rbac
from .errors import ArmError
from .fleet import stable_uuid

PROVIDER = "providers/Microsoft.Authorization"
CREATED = "2026-01-05T09:00:00.0000000Z"  # when the demo tenant's assignments were made
# Microsoft's ids for its built-in roles (docs: built-in roles); the custom role gets a stable id of its own.
BUILT_IN = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Security Reader": "39bc4728-0917-49c7-9d2c-d95423bc2eb4",
    "Security Admin": "fb1c8493-542b-48eb-b624-b4c8fea62acd",
    "Virtual Machine Contributor": "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
}
DESCRIPTIONS = {
    "Owner": "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    "Contributor": "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
    "Reader": "View all resources, but does not allow you to make any changes.",
    "Security Reader": "Security Reader Role",
    "Security Admin": "Security Admin Role",
    "Virtual Machine Contributor": "Lets you manage virtual machines, but not access to them, and not the virtual "
    "network or storage account they're connected to.",
    "Network Contributor": "Lets you manage networks, but not access to them.",
    "JIT VM Access Requester": "Request just-in-time access to virtual machines (the actions Defender for Cloud "
    "documents for requesting JIT access).",
}
_QUOTED = r"'([^']*)'"


def role_id(role: str) -> str:
    return BUILT_IN.get(role) or stable_uuid("role-definition", role)


def role_by_id(guid: str) -> str | None:
    return next((role for role in rbac.ROLES if role_id(role).lower() == guid.lower()), None)


def definition(role: str, root: str, subscriptions: list[str]) -> dict:
    """One role definition as ARM answers it; `root` is "" (tenant) or "/subscriptions/{id}"."""
    actions, not_actions = rbac.ROLES[role]
    built_in = role in BUILT_IN
    return {
        "properties": {
            "roleName": role,
            "type": "BuiltInRole" if built_in else "CustomRole",
            "description": DESCRIPTIONS.get(role, ""),
            "assignableScopes": ["/"] if built_in else [f"/subscriptions/{s}" for s in subscriptions],
            "permissions": [
                {"actions": list(actions), "notActions": list(not_actions), "dataActions": [], "notDataActions": []}
            ],
            "createdOn": CREATED,
            "updatedOn": CREATED,
            "createdBy": None,
            "updatedBy": None,
        },
        "id": f"{root}/{PROVIDER}/roleDefinitions/{role_id(role)}",
        "type": "Microsoft.Authorization/roleDefinitions",
        "name": role_id(role),
    }


def definitions(root: str, subscriptions: list[str], query: str) -> list[dict]:
    """Role Definitions - List at a scope: every built-in role, and the custom ones assignable there. `$filter`
    as documented: `roleName eq '…'`, `type eq 'BuiltInRole'|'CustomRole'`, `atScopeAndBelow()`."""
    found = [definition(role, root, subscriptions) for role in rbac.ROLES]
    wanted = query.strip()
    if not wanted or wanted.lower() == "atscopeandbelow()":
        return found
    match = re.fullmatch(rf"(roleName|type)\s+eq\s+{_QUOTED}", wanted, re.IGNORECASE)
    if match is None:
        raise ArmError(
            400,
            "BadRequest",
            f"The filter '{query}' is not supported. Supported filters are "
            "'roleName eq {value}', 'type eq {value}' and 'atScopeAndBelow()'.",
        )
    field = "roleName" if match[1].lower() == "rolename" else "type"
    return [d for d in found if d["properties"][field].lower() == match[2].lower()]


def _principal_type(object_id: str) -> str:
    if any(g.object_id == object_id for g in demo.GROUPS):
        return "Group"
    if any(a.object_id == object_id for a in demo.APPS):
        return "ServicePrincipal"
    return "User"


def assignment(a: dict) -> dict:
    """One role assignment as ARM answers it (docs' shape: the condition and audit fields, mostly null)."""
    sub = a["scope"].split("/")[2]
    name = stable_uuid("role-assignment", a["principalId"], a["role"], a["scope"].lower())
    return {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{sub}/{PROVIDER}/roleDefinitions/{role_id(a['role'])}",
            "principalId": a["principalId"],
            "principalType": _principal_type(a["principalId"]),
            "scope": a["scope"],
            "condition": None,
            "conditionVersion": None,
            "createdOn": CREATED,
            "updatedOn": CREATED,
            "createdBy": None,
            "updatedBy": None,
            "delegatedManagedIdentityResourceId": None,
            "description": None,
        },
        "id": f"{a['scope']}/{PROVIDER}/roleAssignments/{name}",
        "type": "Microsoft.Authorization/roleAssignments",
        "name": name,
    }


def assignments(world_assignments: list[dict], scope: str, query: str) -> list[dict]:
    """Role Assignments - List For Scope (and For Subscription): without a filter, those at, above and below
    the scope; `atScope()` at or above it; `principalId eq '…'` one principal's, at, above and below;
    `assignedTo('…')` a user's or service principal's, through its groups too; `atScope() and assignedTo('…')`."""
    wanted = query.strip()
    at_scope, principals = False, None
    for part in re.split(r"\s+and\s+", wanted, flags=re.IGNORECASE) if wanted else []:
        if part.lower() == "atscope()":
            at_scope = True
        elif found := re.fullmatch(rf"principalId\s+eq\s+{_QUOTED}", part, re.IGNORECASE):
            principals = {found[1].lower()}
        elif found := re.fullmatch(rf"assignedTo\({_QUOTED}\)", part, re.IGNORECASE):
            principals = {p.lower() for p in rbac.holders(found[1].lower())}
        else:
            raise ArmError(
                400,
                "BadRequest",
                f"The filter '{query}' is not supported. Supported filters are "
                "'atScope()', 'principalId eq {id}' and 'assignedTo('{id}')'.",
            )
    return [
        assignment(a)
        for a in world_assignments
        if (rbac.scope_covers(a["scope"], scope) or (not at_scope and rbac.scope_covers(scope, a["scope"])))
        and (principals is None or a["principalId"].lower() in principals)
    ]
