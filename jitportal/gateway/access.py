"""Opening ports: JitNetworkAccessPolicies - Initiate (202 with a body, not a long-running operation)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from azure.mgmt.security.v2020_01_01 import models

from .auth import UserCredential
from .clients import call
from .ids import PolicyRef
from .parse import parse_time
from .policies import security_client
from .types import GrantPort, GrantResult


def initiate(session: MutableMapping[str, Any], ref: PolicyRef, vms: dict[str, tuple[GrantPort, ...]],
             justification: str) -> GrantResult:
    """ARM: JitNetworkAccessPolicies - Initiate, once for all the VMs of one policy."""
    credential = UserCredential(session)
    body = models.JitNetworkAccessPolicyInitiateRequest(
        virtual_machines=[models.JitNetworkAccessPolicyInitiateVirtualMachine(id=vm_id, ports=[
            models.JitNetworkAccessPolicyInitiatePort(number=p.number, allowed_source_address_prefix=p.source,
                                                      end_time_utc=p.end) for p in ports])
            for vm_id, ports in vms.items()],
        justification=justification or None)
    operations = security_client(credential, ref.subscription_id).jit_network_access_policies
    answer, correlation = call(
        credential,
        lambda: operations.initiate(ref.resource_group, ref.location, ref.name, body, cls=lambda response, result, _: (
            result, response.http_response.headers.get("x-ms-correlation-request-id", ""))),
        f"JIT policy '{ref.name}' of {ref.resource_group} in {ref.location}")
    opened = {vm.id.lower(): tuple((p.number, parse_time(p.end_time_utc) if isinstance(p.end_time_utc, str)
                                    else p.end_time_utc) for p in vm.ports)
              for vm in answer.virtual_machines}
    return GrantResult(opened=opened, correlation_id=correlation)
