"""NSG security rules the portal reads whole and, for an admin Azure allows, deletes (api-version 2024-05-01)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from .auth import UserCredential
from .clients import call, network, raw_answer, write_options
from .ids import RuleRef
from .parse import security_group
from .types import SecurityGroup

NETWORK_VERSION = "2024-05-01"


def read_security_rule(session: MutableMapping[str, Any], ref: RuleRef) -> dict:
    """ARM: SecurityRules - Get. The rule as Azure holds it (id, name, every property)."""
    credential = UserCredential(session)
    operations = network(credential, ref.subscription_id).security_rules
    answer, _ = call(
        credential,
        lambda: operations.get(ref.resource_group, ref.nsg, ref.name, cls=raw_answer, api_version=NETWORK_VERSION),
        f"rule {ref.name} of NSG {ref.nsg}",
    )
    return answer


def read_security_group(session: MutableMapping[str, Any], ref: RuleRef) -> SecurityGroup:
    """ARM: NetworkSecurityGroups - Get. The inbound rules of the NSG `ref` names (its rule name is not read)."""
    credential = UserCredential(session)
    operations = network(credential, ref.subscription_id).network_security_groups
    answer, _ = call(
        credential,
        lambda: operations.get(ref.resource_group, ref.nsg, cls=raw_answer, api_version=NETWORK_VERSION),
        f"NSG {ref.nsg}",
    )
    return security_group(answer)


def delete_security_rule(session: MutableMapping[str, Any], ref: RuleRef, correlation_id: str) -> None:
    """ARM: SecurityRules - Delete, a long-running operation followed to its end. Raises OutcomeUnknown when the
    answer is lost (read the NSG back)."""
    credential = UserCredential(session)
    operations = network(credential, ref.subscription_id).security_rules
    call(
        credential,
        lambda: operations.begin_delete(
            ref.resource_group, ref.nsg, ref.name, api_version=NETWORK_VERSION, **write_options(correlation_id)
        ).result(),
        f"rule {ref.name} of NSG {ref.nsg}",
        change=True,
    )
