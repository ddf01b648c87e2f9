"""Reading and writing JIT network access policies (api-version 2020-01-01)."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

import isodate
from azure.mgmt.security import SecurityCenter
from azure.mgmt.security.v2020_01_01 import models

from .auth import UserCredential
from .clients import call, client_options
from .ids import PolicyRef
from .parse import policy as parse_policy
from .types import JitPolicy, PolicyVm, PortRule


def security_client(credential: UserCredential, subscription_id: str) -> SecurityCenter:
    return SecurityCenter(subscription_id=subscription_id, **client_options(credential))


def list_policies_at(session: MutableMapping[str, Any], subscription_id: str, resource_group: str,
                     location: str) -> list[JitPolicy]:
    """ARM: JitNetworkAccessPolicies - List By Resource Group And Region."""
    credential = UserCredential(session)
    operations = security_client(credential, subscription_id).jit_network_access_policies
    found = call(credential, lambda: list(operations.list_by_resource_group_and_region(resource_group, location)),
                 f"the JIT policies of {resource_group} in {location}")
    return [parse_policy(p.serialize(keep_readonly=True), subscription_id) for p in found]


def _duration(value: timedelta) -> str:
    return isodate.duration_isoformat(value)


def _port_model(port: PortRule) -> models.JitNetworkAccessPortRule:
    per_request = port.allowed_prefixes == ("*",)
    single = len(port.allowed_prefixes) == 1
    return models.JitNetworkAccessPortRule(
        number=port.number, protocol=port.protocol,
        allowed_source_address_prefix=port.allowed_prefixes[0] if per_request or single else None,
        allowed_source_address_prefixes=None if per_request or single else list(port.allowed_prefixes),
        max_request_access_duration=_duration(port.max_duration),
    )


def put_policy(session: MutableMapping[str, Any], ref: PolicyRef, vms: tuple[PolicyVm, ...]) -> JitPolicy:
    """ARM: JitNetworkAccessPolicies - Create Or Update (PUT replaces the policy's VM list)."""
    credential = UserCredential(session)
    body = models.JitNetworkAccessPolicy(kind="Basic", virtual_machines=[
        models.JitNetworkAccessPolicyVirtualMachine(id=vm.vm_id, ports=[_port_model(p) for p in vm.ports])
        for vm in vms])
    operations = security_client(credential, ref.subscription_id).jit_network_access_policies
    result = call(credential, lambda: operations.create_or_update(ref.resource_group, ref.location, ref.name, body),
                  f"JIT policy '{ref.name}' of {ref.resource_group} in {ref.location}")
    return parse_policy(result.serialize(keep_readonly=True), ref.subscription_id)


def delete_policy(session: MutableMapping[str, Any], ref: PolicyRef) -> None:
    """ARM: JitNetworkAccessPolicies - Delete."""
    credential = UserCredential(session)
    operations = security_client(credential, ref.subscription_id).jit_network_access_policies
    call(credential, lambda: operations.delete(ref.resource_group, ref.location, ref.name),
         f"JIT policy '{ref.name}' of {ref.resource_group} in {ref.location}")
