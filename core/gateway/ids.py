"""Strict ARM resource id patterns: nothing else may reach an ARM URL."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUB = r"(?P<sub>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
_RG = r"(?P<rg>[-\w._()]{1,90})"
VM_ID = re.compile(rf"^/subscriptions/{_SUB}/resourceGroups/{_RG}/providers/Microsoft\.Compute/virtualMachines/"
                   r"(?P<name>[-\w.]{1,64})$", re.IGNORECASE)
POLICY_ID = re.compile(rf"^/subscriptions/{_SUB}/resourceGroups/{_RG}/providers/Microsoft\.Security/locations/"
                       r"(?P<location>[a-z0-9]{1,40})/jitNetworkAccessPolicies/(?P<name>[-\w.]{1,56})$", re.IGNORECASE)

RULE_ID = re.compile(rf"^/subscriptions/{_SUB}/resourceGroups/{_RG}/providers/Microsoft\.Network/networkSecurityGroups/"
                     r"(?P<nsg>[-\w._]{1,80})/securityRules/(?P<name>\w[-\w._]{0,79})$", re.IGNORECASE)


@dataclass(frozen=True)
class RuleRef:
    """An NSG security rule, by the parts of its ARM id."""

    subscription_id: str
    resource_group: str
    nsg: str
    name: str

    @property
    def nsg_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.Network/networkSecurityGroups/{self.nsg}")

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
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.Security/locations/{self.location}/jitNetworkAccessPolicies/{self.name}")

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
