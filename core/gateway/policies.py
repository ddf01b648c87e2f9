"""Reading and writing JIT network access policies (api-version 2020-01-01)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import isodate
from azure.mgmt.security.v2020_01_01 import models

from .app_identity import AppCredential
from .auth import UserCredential
from .clients import call, parallel, raw_answer, security, write_options
from .errors import GatewayError
from .ids import PolicyRef
from .parse import policy as parse_policy
from .raw import try_list
from .types import JitPolicy, PolicyVm, PortRule

JIT_VERSION = "2020-01-01"


def list_policies_at(
    session: MutableMapping[str, Any], subscription_id: str, resource_group: str, location: str
) -> list[JitPolicy]:
    """ARM: JitNetworkAccessPolicies - List By Resource Group And Region."""
    found = _list_at(UserCredential(session), (subscription_id, resource_group, location))
    if isinstance(found, GatewayError):
        raise found
    return found


def list_policies_in(
    credential: UserCredential | AppCredential, places: list[tuple[str, str, str]]
) -> tuple[list[JitPolicy], dict[tuple[str, str, str], GatewayError]]:
    """`list_policies_at` for each (subscription, resource group, region), in parallel, as any reader; the
    refusals by place."""
    results = parallel(lambda place: _list_at(credential, place), places)
    return (
        [p for r in results if not isinstance(r, GatewayError) for p in r],
        {place: r for place, r in zip(places, results, strict=True) if isinstance(r, GatewayError)},
    )


def _list_at(credential: UserCredential | AppCredential, place: tuple[str, str, str]) -> list[JitPolicy] | GatewayError:
    subscription_id, resource_group, location = place
    found = try_list(
        credential,
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
        f"Microsoft.Security/locations/{location}/jitNetworkAccessPolicies",
        {"api-version": JIT_VERSION},
        f"the JIT policies of {resource_group} in {location}",
        subscription_id,
    )
    return found if isinstance(found, GatewayError) else [parse_policy(p, subscription_id) for p in found[0]]


def list_policies_with(
    credential: UserCredential | AppCredential, subscription_ids: list[str]
) -> tuple[list[JitPolicy], dict[str, GatewayError]]:
    """ARM: JitNetworkAccessPolicies - List, per subscription in parallel, as any reader (the person, or the app's
    read-only identity); the refusals by subscription."""

    def one(subscription_id: str) -> list[JitPolicy] | GatewayError:
        found = try_list(
            credential,
            f"/subscriptions/{subscription_id}/providers/Microsoft.Security/jitNetworkAccessPolicies",
            {"api-version": JIT_VERSION},
            f"the JIT policies of subscription {subscription_id}",
            subscription_id,
        )
        return found if isinstance(found, GatewayError) else [parse_policy(p, subscription_id) for p in found[0]]

    results = parallel(one, subscription_ids)
    return (
        [p for r in results if not isinstance(r, GatewayError) for p in r],
        {s: r for s, r in zip(subscription_ids, results, strict=True) if isinstance(r, GatewayError)},
    )


def _port_model(port: PortRule) -> models.JitNetworkAccessPortRule:
    per_request = port.allowed_prefixes == ("*",)
    single = len(port.allowed_prefixes) == 1
    return models.JitNetworkAccessPortRule(
        number=port.number,
        protocol=port.protocol,
        allowed_source_address_prefix=port.allowed_prefixes[0] if per_request or single else None,
        allowed_source_address_prefixes=None if per_request or single else list(port.allowed_prefixes),
        max_request_access_duration=isodate.duration_isoformat(port.max_duration),
    )


def put_policy(
    session: MutableMapping[str, Any], ref: PolicyRef, vms: tuple[PolicyVm, ...], correlation_id: str
) -> JitPolicy:
    """ARM: JitNetworkAccessPolicies - Create Or Update (PUT replaces the policy's VM list).
    Raises OutcomeUnknown when the answer is lost."""
    credential = UserCredential(session)
    body = models.JitNetworkAccessPolicy(
        kind="Basic",
        virtual_machines=[
            models.JitNetworkAccessPolicyVirtualMachine(id=vm.vm_id, ports=[_port_model(p) for p in vm.ports])
            for vm in vms
        ],
    )
    operations = security(credential, ref.subscription_id).jit_network_access_policies
    answer, _ = call(
        credential,
        lambda: operations.create_or_update(
            ref.resource_group, ref.location, ref.name, body, cls=raw_answer, **write_options(correlation_id)
        ),
        ref.label,
        change=True,
    )
    return parse_policy(answer, ref.subscription_id)


def delete_policy(session: MutableMapping[str, Any], ref: PolicyRef, correlation_id: str) -> None:
    """ARM: JitNetworkAccessPolicies - Delete. Raises OutcomeUnknown when the answer is lost."""
    credential = UserCredential(session)
    operations = security(credential, ref.subscription_id).jit_network_access_policies
    call(
        credential,
        lambda: operations.delete(ref.resource_group, ref.location, ref.name, **write_options(correlation_id)),
        ref.label,
        change=True,
    )
