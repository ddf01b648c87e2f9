"""Opening ports: JitNetworkAccessPolicies - Initiate (202 with a body, not a long-running operation)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from azure.mgmt.security.v2020_01_01 import models

from .auth import UserCredential
from .clients import call, raw_answer, security, write_options
from .ids import PolicyRef
from .parse import grant
from .types import GrantPort, GrantResult


def initiate(
    session: MutableMapping[str, Any],
    ref: PolicyRef,
    vms: dict[str, tuple[GrantPort, ...]],
    justification: str,
    correlation_id: str,
) -> GrantResult:
    """ARM: JitNetworkAccessPolicies - Initiate, once for all the VMs of one policy. Never retried: a
    lost answer raises OutcomeUnknown, and the caller reads the policy's requests to learn the truth."""
    credential = UserCredential(session)
    body = models.JitNetworkAccessPolicyInitiateRequest(
        virtual_machines=[
            models.JitNetworkAccessPolicyInitiateVirtualMachine(
                id=vm_id,
                ports=[
                    models.JitNetworkAccessPolicyInitiatePort(
                        number=p.number, allowed_source_address_prefix=p.source, end_time_utc=p.end
                    )
                    for p in ports
                ],
            )
            for vm_id, ports in vms.items()
        ],
        justification=justification or None,
    )
    operations = security(credential, ref.subscription_id).jit_network_access_policies
    answer, correlation = call(
        credential,
        lambda: operations.initiate(
            ref.resource_group, ref.location, ref.name, body, cls=raw_answer, **write_options(correlation_id)
        ),
        ref.label,
        change=True,
    )
    return grant(answer, correlation)
