"""What Azure lets the signed-in person do, per resource group: ARM's permissions API.

ARM answers with one block per role assignment at the scope or above; an action is allowed when some block
lists it (wildcards as in role definitions) and that same block's notActions do not take it away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .auth import UserCredential
from .errors import GatewayError
from .raw import try_list

PERMISSIONS_VERSION = "2022-04-01"


@cache
def _pattern(action_pattern: str) -> re.Pattern[str]:
    # As ARM: "*" matches any characters, and "/*/" may also stand for a single "/".
    escaped = re.escape(action_pattern).replace("/\\*/", "(?:/.*)?/").replace("\\*", ".*")
    return re.compile(f"^{escaped}$", re.IGNORECASE)


@dataclass(frozen=True)
class Permissions:
    """The (actions, notActions) blocks Azure gives a person at one scope; `known` is False when Azure would
    not say (then the portal lets Azure decide at save time)."""

    blocks: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    known: bool = True

    def allows(self, action: str) -> bool:
        return not self.known or any(
            any(_pattern(a).match(action) for a in actions) and not any(_pattern(n).match(action) for n in not_actions)
            for actions, not_actions in self.blocks
        )


UNKNOWN = Permissions(known=False)


def read_permissions(credential: UserCredential, subscription_id: str, resource_group: str) -> Permissions:
    """ARM: GET {group}/providers/Microsoft.Authorization/permissions (Permissions - List For Resource Group), or
    at the subscription when `resource_group` is "" (Permissions - List); UNKNOWN when Azure would not answer."""
    scope = f"/subscriptions/{subscription_id}" + (f"/resourceGroups/{resource_group}" if resource_group else "")
    answer = try_list(
        credential,
        f"{scope}/providers/Microsoft.Authorization/permissions",
        {"api-version": PERMISSIONS_VERSION},
        f"your rights in {resource_group or 'the subscription'}",
        subscription_id,
    )
    if isinstance(answer, GatewayError):
        return UNKNOWN
    return Permissions(tuple((tuple(b.get("actions") or ()), tuple(b.get("notActions") or ())) for b in answer[0]))
