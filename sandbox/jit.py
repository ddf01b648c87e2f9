"""JIT network access policy semantics as Azure applies them: what a PUT accepts, what an initiate grants,
when a grant ends (Microsoft's REST examples, tests/contract/examples/). The NSG rules that enforce them are `nsg`'s.

Functions change the world (plain dicts) in place and raise ArmError where Azure refuses. The caller
holds the world's lock.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re

from . import firewall, nsg
from .errors import ArmError
from .fleet import new_policy
from .timeutil import format_time, parse_duration, parse_time

VM_ID = re.compile(
    r"^/subscriptions/(?P<sub>[0-9a-fA-F-]{36})/resourceGroups/(?P<rg>[-\w._()]{1,90})"
    r"/providers/Microsoft\.Compute/virtualMachines/(?P<name>[-\w.]{1,64})$",
    re.IGNORECASE,
)
MIN_DURATION = dt.timedelta(minutes=5)
MAX_DURATION = dt.timedelta(days=1)
REQUEST_GRACE = dt.timedelta(minutes=1)


def _bad(message: str, code: str = "BadRequest") -> ArmError:
    return ArmError(400, code, message)


def _valid_prefix(value: object) -> bool:
    if value == "*":
        return True
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _validate_port(vm_id: str, port: object) -> dict:
    if not isinstance(port, dict):
        raise _bad(f"Port definitions of '{vm_id}' must be objects.")
    number = port.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 65535:
        raise _bad(f"Port number '{number}' of '{vm_id}' is invalid: it must be between 0 and 65535.")
    if port.get("protocol") not in ("TCP", "UDP", "*"):
        raise _bad(f"Protocol '{port.get('protocol')}' of port {number} is invalid: use TCP, UDP or *.")
    single, many = port.get("allowedSourceAddressPrefix"), port.get("allowedSourceAddressPrefixes")
    if (single is None) == (many is None):
        raise _bad(f"Port {number} must have either allowedSourceAddressPrefix or allowedSourceAddressPrefixes.")
    prefixes = [single] if single is not None else many
    if not isinstance(prefixes, list) or not prefixes or not all(_valid_prefix(p) for p in prefixes):
        raise _bad(f"Port {number} has an invalid allowed source address prefix.")
    try:
        duration = parse_duration(port.get("maxRequestAccessDuration") or "")
    except ValueError as exc:
        raise _bad(f"maxRequestAccessDuration of port {number}: {exc}.") from None
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise _bad(f"maxRequestAccessDuration of port {number} must be between 5 minutes and 1 day.")
    return {
        k: port[k]
        for k in (
            "number",
            "protocol",
            "allowedSourceAddressPrefix",
            "allowedSourceAddressPrefixes",
            "maxRequestAccessDuration",
        )
        if k in port
    }


def put_policy(
    world: dict, pid: str, sub_id: str, rg: str, location: str, name: str, body: object, now: dt.datetime
) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise _bad("The request body must be a JIT network access policy with properties.", "InvalidRequestContent")
    vms_in = body["properties"].get("virtualMachines")
    if not isinstance(vms_in, list) or not vms_in:
        raise _bad("A JIT network access policy must list at least one virtual machine.")
    pricing = world["pricings"].get(sub_id.lower(), {}).get("properties", {})
    if pricing.get("subPlan") != "P2":
        raise _bad(
            "Just-in-time VM access requires Microsoft Defender for Servers Plan 2 on this subscription.",
            "JitNetworkAccessNotEnabled",
        )
    vms: list[dict] = []
    for vm_in in vms_in:
        vm_id = (vm_in or {}).get("id", "") if isinstance(vm_in, dict) else ""
        match = VM_ID.match(vm_id)
        vm = world["vms"].get(vm_id.lower()) if match else None
        if vm is None:
            raise _bad(f"Virtual machine '{vm_id}' was not found.", "VirtualMachineNotFound")
        if match["sub"].lower() != sub_id.lower() or match["rg"].lower() != rg.lower() or vm["location"] != location:
            raise _bad(
                f"Virtual machine '{vm_id}' is not in resource group '{rg}' and location '{location}' of the policy."
            )
        if len(name) + len(vm["name"]) > 56:
            raise _bad(f"The policy name and virtual machine name '{vm['name']}' together exceed 56 characters.")
        if any(v["id"].lower() == vm_id.lower() for v in vms):
            raise _bad(f"Virtual machine '{vm_id}' is listed twice.")
        _, unsupported = nsg.protection(world, vm)
        if unsupported:
            raise _bad(unsupported, "JitNetworkAccessNotSupported")
        ports_in = vm_in.get("ports")
        if not isinstance(ports_in, list) or not ports_in:
            raise _bad(f"Virtual machine '{vm_id}' must have at least one port.")
        ports = [_validate_port(vm_id, p) for p in ports_in]
        if len({p["number"] for p in ports}) != len(ports):
            raise _bad(f"Virtual machine '{vm_id}' lists a port more than once.")
        vm_out = {"id": vm["id"], "ports": ports}
        wall = firewall.firewall_for(world, vm["id"])
        if wall is not None:  # Azure fills this in itself: where requesters reach the VM
            vm_out["publicIpAddress"] = firewall.public_ip(world, wall)
        vms.append(vm_out)

    old = world["policies"].get(pid.lower())
    for vm in (old or {}).get("properties", {}).get("virtualMachines", []):
        nsg.set_deny_rule(world, vm["id"], [])
    policy = new_policy(pid, location, vms, (old or {}).get("properties", {}).get("requests", []))
    world["policies"][pid.lower()] = policy
    world["policy_written_at"][pid.lower()] = format_time(now)
    for vm in vms:
        nsg.set_deny_rule(world, vm["id"], [p["number"] for p in vm["ports"]])
    return policy


def delete_policy(world: dict, pid: str) -> bool:
    policy = world["policies"].pop(pid.lower(), None)
    if policy is None:
        return False
    for vm in policy["properties"]["virtualMachines"]:
        nsg.set_deny_rule(world, vm["id"], [])
    for request in policy["properties"]["requests"]:
        for vm in request["virtualMachines"]:
            for port in vm["ports"]:
                _close(world, vm["id"], request["startTimeUtc"], port["number"])
    return True


def _subset_error(pid: str) -> ArmError:
    return _bad(
        f"The given access request is not a subset of policy '{pid}'. Please make sure that the access "
        "request is within the allowed policy properties."
    )


def _allowed_prefixes(policy_port: dict) -> list[str]:
    single = policy_port.get("allowedSourceAddressPrefix")
    return [single] if single is not None else list(policy_port.get("allowedSourceAddressPrefixes") or [])


def initiate(world: dict, pid: str, body: object, requestor: str, caller_ip: str, now: dt.datetime) -> dict:
    policy = world["policies"].get(pid.lower())
    if policy is None:
        raise ArmError(404, "NotFound", f"Jit network access policy '{pid}' was not found.")
    if not isinstance(body, dict) or not isinstance(body.get("virtualMachines"), list) or not body["virtualMachines"]:
        raise _bad("The access request must list at least one virtual machine.", "InvalidRequestContent")
    justification = body.get("justification")
    if justification is not None and not isinstance(justification, str):
        raise _bad("justification must be a string.", "InvalidRequestContent")
    policy_vms = {vm["id"].lower(): vm for vm in policy["properties"]["virtualMachines"]}
    granted: list[dict] = []
    for vm_in in body["virtualMachines"]:
        policy_vm = policy_vms.get(str((vm_in or {}).get("id", "")).lower()) if isinstance(vm_in, dict) else None
        if policy_vm is None or not isinstance(vm_in.get("ports"), list) or not vm_in["ports"]:
            raise _subset_error(pid)
        ports = []
        for port_in in vm_in["ports"]:
            ports.append(_granted_port(pid, policy_vm, port_in, caller_ip, now))
        granted.append({"id": policy_vm["id"], "ports": ports})

    record = {"virtualMachines": granted, "startTimeUtc": format_time(now), "requestor": requestor}
    if justification:
        record["justification"] = justification
    add_request(world, policy, record)
    response_vms = [{"id": vm["id"], "ports": [dict(p, status="Initiating") for p in vm["ports"]]} for vm in granted]
    return dict(record, virtualMachines=response_vms)


def _granted_port(pid: str, policy_vm: dict, port_in: object, caller_ip: str, now: dt.datetime) -> dict:
    if not isinstance(port_in, dict):
        raise _subset_error(pid)
    policy_port = next((p for p in policy_vm["ports"] if p["number"] == port_in.get("number")), None)
    if policy_port is None:
        raise _subset_error(pid)
    try:
        end = parse_time(str(port_in.get("endTimeUtc", "")))
    except ValueError:
        raise _bad("endTimeUtc must be an ISO 8601 time.", "InvalidRequestContent") from None
    max_end = now + parse_duration(policy_port["maxRequestAccessDuration"]) + REQUEST_GRACE
    if end <= now or end > max_end:
        raise _subset_error(pid)
    prefix = port_in.get("allowedSourceAddressPrefix") or caller_ip
    allowed = _allowed_prefixes(policy_port)
    if "*" in allowed:
        if prefix == "*" or not _valid_prefix(prefix):
            raise _subset_error(pid)
    elif prefix not in allowed:
        raise _subset_error(pid)
    return {
        "number": policy_port["number"],
        "allowedSourceAddressPrefix": prefix,
        "endTimeUtc": format_time(end),
        "status": "Initiated",
        "statusReason": "UserRequested",
    }


def add_request(world: dict, policy: dict, record: dict) -> None:
    """Keep an access request on its policy: it supersedes older grants of its ports and opens those Initiated."""
    for vm in record["virtualMachines"]:
        for port in vm["ports"]:
            _revoke_older(world, policy, vm["id"], port["number"])
            if port["status"] == "Initiated":
                nsg.add_allow_rule(
                    world, vm["id"], record["startTimeUtc"], port["number"], port["allowedSourceAddressPrefix"]
                )
                firewall.add_nat_rule(world, vm["id"], record["startTimeUtc"], port)
    policy["properties"]["requests"].append(record)


def _revoke_older(world: dict, policy: dict, vm_id: str, number: int) -> None:
    for request in policy["properties"]["requests"]:
        for vm in request["virtualMachines"]:
            if vm["id"].lower() != vm_id.lower():
                continue
            for port in vm["ports"]:
                if port["number"] == number and port["status"] == "Initiated":
                    port["status"], port["statusReason"] = "Revoked", "NewerRequestInitiated"
                    _close(world, vm["id"], request["startTimeUtc"], number)


def expire(world: dict, now: dt.datetime) -> tuple[bool, dt.datetime | None]:
    """Close every port whose end time has passed, as Azure does at endTimeUtc; say whether any closed, and
    when the next open port ends (None: none is open)."""
    changed, next_end = False, None
    for policy in world["policies"].values():
        for request in policy["properties"]["requests"]:
            for vm in request["virtualMachines"]:
                for port in vm["ports"]:
                    if port["status"] != "Initiated":
                        continue
                    end = parse_time(port["endTimeUtc"])
                    if end <= now:
                        port["status"], port["statusReason"] = "Revoked", "Expired"
                        _close(world, vm["id"], request["startTimeUtc"], port["number"])
                        changed = True
                    elif next_end is None or end < next_end:
                        next_end = end
    return changed, next_end


def _close(world: dict, vm_id: str, start: str, number: int) -> None:
    """Take away what a grant opened: the NSG's allow rule, or the firewall's DNAT rule."""
    nsg.remove_allow_rule(world, vm_id, start, number)
    firewall.remove_nat_rule(world, vm_id, start, number)
