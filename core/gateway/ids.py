"""ARM resource ids, in one place: strict patterns for what may reach an ARM URL (nothing else does), and
azure-mgmt-core's `parse_resource_id` for reading the parts of ids Azure itself wrote."""

from __future__ import annotations

import re
from dataclasses import dataclass

from azure.mgmt.core.tools import parse_resource_id

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_RG_NAME = r"[-\w._()]{1,90}"
_SUB = rf"(?P<sub>{_GUID})"
_RG = rf"(?P<rg>{_RG_NAME})"
SUBSCRIPTION_ID = re.compile(rf"^{_GUID}$")
RESOURCE_GROUP = re.compile(rf"^{_RG_NAME}$")
# Every subscription + resource group a text names (a trail event's target may name several ids).
_SCOPES_IN_TEXT = re.compile(rf"/subscriptions/({_GUID})/resourcegroups/({_RG_NAME})", re.IGNORECASE)
VM_ID = re.compile(
    rf"^/subscriptions/{_SUB}/resourceGroups/{_RG}/providers/Microsoft\.Compute/virtualMachines/"
    r"(?P<name>[-\w.]{1,64})$",
    re.IGNORECASE,
)
POLICY_ID = re.compile(
    rf"^/subscriptions/{_SUB}/resourceGroups/{_RG}/providers/Microsoft\.Security/locations/"
    r"(?P<location>[a-z0-9]{1,40})/jitNetworkAccessPolicies/(?P<name>[-\w.]{1,56})$",
    re.IGNORECASE,
)

RULE_ID = re.compile(
    rf"^/subscriptions/{_SUB}/resourceGroups/{_RG}/providers/Microsoft\.Network/networkSecurityGroups/"
    r"(?P<nsg>[-\w._]{1,80})/securityRules/(?P<name>\w[-\w._]{0,79})$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RuleRef:
    """An NSG security rule, by the parts of its ARM id."""

    subscription_id: str
    resource_group: str
    nsg: str
    name: str

    @property
    def nsg_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.Network/networkSecurityGroups/{self.nsg}"
        )

    @property
    def rule_id(self) -> str:
        return f"{self.nsg_id}/securityRules/{self.name}"


def parse_rule_id(value: str) -> RuleRef | None:
    match = RULE_ID.match(value or "")
    return RuleRef(match["sub"].lower(), match["rg"], match["nsg"], match["name"]) if match else None


@dataclass(frozen=True)
class PolicyRef:
    subscription_id: str
    resource_group: str
    location: str
    name: str

    @property
    def policy_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.Security/locations/{self.location}/jitNetworkAccessPolicies/{self.name}"
        )

    @property
    def label(self) -> str:
        return f"JIT policy '{self.name}' of {self.resource_group} in {self.location}"


def parse_vm_id(value: str) -> tuple[str, str, str] | None:
    """(subscription id, resource group, VM name), or None when `value` is not a VM id."""
    match = VM_ID.match(value or "")
    return (match["sub"].lower(), match["rg"], match["name"]) if match else None


def parse_policy_id(value: str) -> PolicyRef | None:
    match = POLICY_ID.match(value or "")
    return PolicyRef(match["sub"].lower(), match["rg"], match["location"].lower(), match["name"]) if match else None


def subscription_of(resource_id: str) -> str:
    """The subscription of an id Azure wrote (lower case, as the portal keys subscriptions)."""
    return parse_resource_id(resource_id).get("subscription", "").lower()


def resource_group_of(resource_id: str) -> str:
    """The resource group an ARM id names ("" for none). Read per VM of a fleet (10,000 at a time), so the
    common shape, /subscriptions/{id}/resourceGroups/{name}/…, is read without azure-mgmt-core's parser."""
    parts = resource_id.split("/", 5)
    if len(parts) > 4 and not parts[0] and parts[1].lower() == "subscriptions" and parts[3].lower() == "resourcegroups":
        return parts[4]
    return parse_resource_id(resource_id).get("resource_group", "")


def scopes_in(text: str) -> set[tuple[str, str]]:
    """The (subscription, resource group) pairs, lower case, that a text names in one or more ARM ids."""
    return {(sub.lower(), rg.lower()) for sub, rg in _SCOPES_IN_TEXT.findall(text)}
