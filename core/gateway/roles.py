"""Who Azure lets act at a scope: role assignments at, above and below it, and the role definitions they name
(Microsoft.Authorization 2022-04-01), read as JSON through the SDK pipeline like every other read.

`RoleCatalog.holders` is pure: an assignment grants an action when its definition's permissions list it
(wildcards as ARM matches them) and the same block's notActions do not take it away — ARM's rule, the one
`Permissions.allows` applies to a person's own rights.
"""

from __future__ import annotations

from dataclasses import dataclass

from .auth import UserCredential
from .errors import GatewayError
from .permissions import Permissions
from .raw import read_list

AUTHORIZATION_VERSION = "2022-04-01"


@dataclass(frozen=True)
class RoleDefinition:
    definition_id: str  # the GUID, lower case (an id is tenant- or subscription-rooted; the GUID is the same)
    name: str
    permissions: Permissions


@dataclass(frozen=True)
class RoleAssignment:
    principal_id: str
    principal_type: str  # "User", "Group", "ServicePrincipal", "ForeignGroup", "Device"
    scope: str
    definition_id: str  # GUID, lower case


@dataclass(frozen=True)
class Holder:
    """A principal one of whose role assignments grants the action somewhere in the scope asked about."""

    principal_id: str
    principal_type: str
    role: str  # the role's name, or "an unknown role (<guid>)" when its definition could not be read
    scope: str  # where that assignment is
    covers_all: bool  # assigned at the scope or above it (else below: part of it)


@dataclass(frozen=True)
class RoleCatalog:
    """One subscription's role assignments (at, above and below it) and the role definitions they use."""

    subscription_id: str
    assignments: tuple[RoleAssignment, ...]
    definitions: dict[str, RoleDefinition]

    def holders(self, action: str, resource_group: str = "") -> tuple[Holder, ...]:
        """Every assignment that grants `action` at the subscription, or at `resource_group` of it, or anywhere
        below; an assignment to a role whose definition is unknown counts (nothing is proven about it)."""
        scope = f"/subscriptions/{self.subscription_id}" + (
            f"/resourceGroups/{resource_group}" if resource_group else ""
        )
        found = []
        for a in self.assignments:
            above, below = _covers(a.scope, scope), _covers(scope, a.scope)
            definition = self.definitions.get(a.definition_id)
            if (above or below) and (definition is None or definition.permissions.allows(action)):
                found.append(
                    Holder(
                        a.principal_id,
                        a.principal_type,
                        definition.name if definition else f"an unknown role ({a.definition_id})",
                        a.scope,
                        above,
                    )
                )
        return tuple(found)


def _covers(outer: str, inner: str) -> bool:
    outer, inner = outer.rstrip("/").lower(), inner.rstrip("/").lower()
    return inner == outer or inner.startswith(outer + "/") or outer == ""


def _guid(definition_id: str) -> str:
    return definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def read_role_catalog(credential: UserCredential, subscription_id: str) -> RoleCatalog:
    """ARM: Role Assignments - List For Subscription (no filter: at, above and below it) and Role Definitions -
    List at the subscription (built-in roles and the custom ones assignable there). Two calls; raises the
    GatewayError that refused either."""
    base = f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization"
    params = {"api-version": AUTHORIZATION_VERSION}
    assigned, _ = read_list(credential, f"{base}/roleAssignments", params, "role assignments", subscription_id)
    defined, _ = read_list(credential, f"{base}/roleDefinitions", params, "role definitions", subscription_id)
    definitions = {}
    for item in defined:
        properties = item.get("properties") or {}
        blocks = tuple(
            (tuple(b.get("actions") or ()), tuple(b.get("notActions") or ()))
            for b in properties.get("permissions") or ()
        )
        guid = _guid(item.get("id") or item.get("name") or "")
        definitions[guid] = RoleDefinition(guid, properties.get("roleName") or guid, Permissions(blocks))
    assignments = tuple(
        RoleAssignment(
            (p.get("principalId") or "").lower(),
            p.get("principalType") or "User",
            p.get("scope") or "",
            _guid(p.get("roleDefinitionId") or ""),
        )
        for p in (item.get("properties") or {} for item in assigned)
        if p.get("principalId")
    )
    return RoleCatalog(subscription_id.lower(), assignments, definitions)


def try_role_catalog(credential: UserCredential, subscription_id: str) -> RoleCatalog | GatewayError:
    try:
        return read_role_catalog(credential, subscription_id)
    except GatewayError as error:
        return error
