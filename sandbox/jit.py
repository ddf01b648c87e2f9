"""JIT network access policy semantics as Azure applies them (DESIGN §3).

Functions take the world (plain dicts) and return (status, body) or raise ArmError. The caller
holds the world's lock.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import uuid
import zlib

from . import demo
from .errors import ArmError
from .fleet import JIT_TYPE, new_policy
from .timeutil import format_time, parse_duration, parse_time

VM_ID = re.compile(
    r"^/subscriptions/(?P<sub>[0-9a-fA-F-]{36})/resourceGroups/(?P<rg>[-\w._()]{1,90})"
    r"/providers/Microsoft\.Compute/virtualMachines/(?P<name>[-\w.]{1,64})$",
    re.IGNORECASE,
)
MIN_DURATION = dt.timedelta(minutes=5)
MAX_DURATION = dt.timedelta(days=1)
REQUEST_GRACE = dt.timedelta(minutes=1)
OPERATIONS = {
    "write": ("Microsoft.Security/locations/jitNetworkAccessPolicies/write",
              "Create or Update JIT Network Access Policy"),
    "delete": ("Microsoft.Security/locations/jitNetworkAccessPolicies/delete", "Delete JIT Network Access Policy"),
    "initiate": ("Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action",
                 "Initiate JIT Network Access Policy"),
}


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
    return {k: port[k] for k in ("number", "protocol", "allowedSourceAddressPrefix",
                                 "allowedSourceAddressPrefixes", "maxRequestAccessDuration") if k in port}


def _vm_protection(world: dict, vm: dict) -> tuple[str | None, str | None]:
    """Return (nsg id or None, why JIT cannot protect the VM or None)."""
    nic = world["nics"].get(vm["nic"].lower(), {})
    nsg = (nic.get("properties", {}).get("networkSecurityGroup") or {}).get("id")
    ip_config = nic["properties"]["ipConfigurations"][0]["properties"]
    subnet_id = ip_config["subnet"]["id"]
    vnet_id = subnet_id.rsplit("/subnets/", 1)[0]
    vnet = world["vnets"].get(vnet_id.lower(), {})
    for subnet in vnet.get("properties", {}).get("subnets", []):
        if subnet["id"].lower() == subnet_id.lower() and not nsg:
            nsg = (subnet["properties"].get("networkSecurityGroup") or {}).get("id")
    firewall = next((f for f in world["firewalls"].values()
                     if f["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"].lower()
                     .startswith(vnet_id.lower() + "/")), None)
    if firewall and firewall["properties"].get("firewallPolicy"):
        return nsg, "The virtual machine is protected by an Azure Firewall managed by Azure Firewall Manager."
    if not nsg and not firewall:
        return None, "The virtual machine has no network security group (NSG) or Azure Firewall."
    return nsg, None


def put_policy(world: dict, pid: str, sub_id: str, rg: str, location: str, name: str, body: object,
               now: dt.datetime) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise _bad("The request body must be a JIT network access policy with properties.", "InvalidRequestContent")
    vms_in = body["properties"].get("virtualMachines")
    if not isinstance(vms_in, list) or not vms_in:
        raise _bad("A JIT network access policy must list at least one virtual machine.")
    pricing = world["pricings"].get(sub_id.lower(), {}).get("properties", {})
    if pricing.get("subPlan") != "P2":
        raise _bad("Just-in-time VM access requires Microsoft Defender for Servers Plan 2 on this subscription.",
                   "JitNetworkAccessNotEnabled")
    vms: list[dict] = []
    for vm_in in vms_in:
        vm_id = (vm_in or {}).get("id", "") if isinstance(vm_in, dict) else ""
        match = VM_ID.match(vm_id)
        vm = world["vms"].get(vm_id.lower()) if match else None
        if vm is None:
            raise _bad(f"Virtual machine '{vm_id}' was not found.", "VirtualMachineNotFound")
        if match["sub"].lower() != sub_id.lower() or match["rg"].lower() != rg.lower() or vm["location"] != location:
            raise _bad(f"Virtual machine '{vm_id}' is not in resource group '{rg}' and location '{location}' "
                       "of the policy.")
        if len(name) + len(vm["name"]) > 56:
            raise _bad(f"The policy name and virtual machine name '{vm['name']}' together exceed 56 characters.")
        if any(v["id"].lower() == vm_id.lower() for v in vms):
            raise _bad(f"Virtual machine '{vm_id}' is listed twice.")
        _, unsupported = _vm_protection(world, vm)
        if unsupported:
            raise _bad(unsupported, "JitNetworkAccessNotSupported")
        ports_in = vm_in.get("ports")
        if not isinstance(ports_in, list) or not ports_in:
            raise _bad(f"Virtual machine '{vm_id}' must have at least one port.")
        ports = [_validate_port(vm_id, p) for p in ports_in]
        if len({p["number"] for p in ports}) != len(ports):
            raise _bad(f"Virtual machine '{vm_id}' lists a port more than once.")
        vm_out = {"id": vm["id"], "ports": ports}
        if isinstance(vm_in.get("publicIpAddress"), str):
            vm_out["publicIpAddress"] = vm_in["publicIpAddress"]
        vms.append(vm_out)

    old = world["policies"].get(pid.lower())
    for vm in (old or {}).get("properties", {}).get("virtualMachines", []):
        _set_deny_rule(world, vm["id"], [])
    policy = new_policy(pid, location, vms, (old or {}).get("properties", {}).get("requests", []))
    world["policies"][pid.lower()] = policy
    world["policy_written_at"][pid.lower()] = format_time(now)
    for vm in vms:
        _set_deny_rule(world, vm["id"], [p["number"] for p in vm["ports"]])
    return policy


def delete_policy(world: dict, pid: str) -> bool:
    policy = world["policies"].pop(pid.lower(), None)
    if policy is None:
        return False
    for vm in policy["properties"]["virtualMachines"]:
        _set_deny_rule(world, vm["id"], [])
    for request in policy["properties"]["requests"]:
        for vm in request["virtualMachines"]:
            for port in vm["ports"]:
                _remove_allow_rule(world, vm["id"], request["startTimeUtc"], port["number"])
    return True


def _subset_error(pid: str) -> ArmError:
    return _bad(f"The given access request is not a subset of policy '{pid}'. Please make sure that the access "
                "request is within the allowed policy properties.")


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

    start = format_time(now)
    for vm in granted:
        for port in vm["ports"]:
            _revoke_older(world, policy, vm["id"], port["number"])
            _add_allow_rule(world, vm["id"], start, port["number"], port["allowedSourceAddressPrefix"])
    record = {"virtualMachines": granted, "startTimeUtc": start, "requestor": requestor}
    if justification:
        record["justification"] = justification
    policy["properties"]["requests"].append(record)
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
    return {"number": policy_port["number"], "allowedSourceAddressPrefix": prefix, "endTimeUtc": format_time(end),
            "status": "Initiated", "statusReason": "UserRequested"}


def _revoke_older(world: dict, policy: dict, vm_id: str, number: int) -> None:
    for request in policy["properties"]["requests"]:
        for vm in request["virtualMachines"]:
            if vm["id"].lower() != vm_id.lower():
                continue
            for port in vm["ports"]:
                if port["number"] == number and port["status"] == "Initiated":
                    port["status"], port["statusReason"] = "Revoked", "NewerRequestInitiated"
                    _remove_allow_rule(world, vm["id"], request["startTimeUtc"], number)


def expire(world: dict, now: dt.datetime) -> bool:
    """Close every port whose end time has passed, as Azure does at endTimeUtc; say whether any closed."""
    changed = False
    for policy in world["policies"].values():
        for request in policy["properties"]["requests"]:
            for vm in request["virtualMachines"]:
                for port in vm["ports"]:
                    if port["status"] == "Initiated" and parse_time(port["endTimeUtc"]) <= now:
                        port["status"], port["statusReason"] = "Revoked", "Expired"
                        _remove_allow_rule(world, vm["id"], request["startTimeUtc"], port["number"])
                        changed = True
    return changed


# --- NSG effects -------------------------------------------------------------------------------

def _nsg_for(world: dict, vm_id: str) -> tuple[dict | None, str]:
    vm = world["vms"].get(vm_id.lower())
    if vm is None:
        return None, ""
    nsg_id, _ = _vm_protection(world, vm)
    nic = world["nics"][vm["nic"].lower()]
    private_ip = nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
    return (world["nsgs"].get(nsg_id.lower()) if nsg_id else None), private_ip


def _signed_crc(text: str) -> int:
    value = zlib.crc32(text.lower().encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def _rule(nsg: dict, name: str, access: str, priority: int, source: str, destination: str,
          ports: list[int]) -> dict:
    port_fields = ({"destinationPortRange": str(ports[0]), "destinationPortRanges": []} if len(ports) == 1 else
                   {"destinationPortRange": "", "destinationPortRanges": [str(p) for p in ports]})
    return {"id": f"{nsg['id']}/securityRules/{name}", "name": name,
            "properties": {"protocol": "*", "sourcePortRange": "*", **port_fields, "sourceAddressPrefix": source,
                           "destinationAddressPrefix": destination, "access": access, "priority": priority,
                           "direction": "Inbound", "provisioningState": "Succeeded"}}


def _set_deny_rule(world: dict, vm_id: str, ports: list[int]) -> None:
    nsg, private_ip = _nsg_for(world, vm_id)
    if nsg is None:
        return
    name = f"SecurityCenter-JITRule_{_signed_crc(vm_id)}_{uuid.uuid5(uuid.NAMESPACE_URL, vm_id.lower()).hex.upper()}"
    rules = [r for r in nsg["properties"]["securityRules"] if r["name"] != name]
    if ports:
        others = [r["properties"]["priority"] for r in rules if not r["name"].startswith("SecurityCenter-JITRule")]
        deny_priorities = [r["properties"]["priority"] for r in rules if r["name"].startswith("SecurityCenter-JITRule_")]
        priority = max([4096 - 1000, *others, *deny_priorities]) + 1
        rules.append(_rule(nsg, name, "Deny", min(priority, 4096), "*", private_ip, ports))
    nsg["properties"]["securityRules"] = rules


def _allow_rule_name(vm_id: str, start: str, number: int) -> str:
    return f"SecurityCenter-JITRule-{_signed_crc(vm_id + start)}-{number}"


def _add_allow_rule(world: dict, vm_id: str, start: str, number: int, source: str) -> None:
    nsg, private_ip = _nsg_for(world, vm_id)
    if nsg is None:
        return
    used = {r["properties"]["priority"] for r in nsg["properties"]["securityRules"]}
    priority = next(p for p in range(100, 4096) if p not in used)
    nsg["properties"]["securityRules"].append(
        _rule(nsg, _allow_rule_name(vm_id, start, number), "Allow", priority, source, private_ip, [number]))


def _remove_allow_rule(world: dict, vm_id: str, start: str, number: int) -> None:
    nsg, _ = _nsg_for(world, vm_id)
    if nsg is not None:
        name = _allow_rule_name(vm_id, start, number)
        nsg["properties"]["securityRules"] = [r for r in nsg["properties"]["securityRules"] if r["name"] != name]


# --- Activity Log ------------------------------------------------------------------------------

def record_event(world: dict, kind: str, pid: str, caller: dict, status: str, now: dt.datetime,
                 correlation_id: str, sub_status: str = "") -> None:
    """Append the BeginRequest and EndRequest events Azure writes for one JIT operation."""
    action, localized = OPERATIONS[kind]
    sub_id = pid.split("/")[2]
    rg = pid.split("/")[4]
    operation_id = str(uuid.uuid4())
    for event_name, event_status, when in (("BeginRequest", "Started", now),
                                           ("EndRequest", status, now + dt.timedelta(milliseconds=350))):
        event_id = str(uuid.uuid4())
        ticks = int((when - dt.datetime(1, 1, 1, tzinfo=dt.UTC)).total_seconds() * 10_000_000)
        world["activity"].append({
            "authorization": {"action": action, "scope": pid},
            "caller": caller.get("upn", ""),
            "channels": "Operation",
            "claims": {"name": caller.get("name", ""), "http://schemas.microsoft.com/identity/claims/objectidentifier":
                       caller.get("oid", ""), "ipaddr": caller.get("ip", "")},
            "correlationId": correlation_id,
            "description": "",
            "eventDataId": event_id,
            "eventName": {"value": event_name, "localizedValue": "Begin request" if event_name == "BeginRequest"
                          else "End request"},
            "category": {"value": "Administrative", "localizedValue": "Administrative"},
            "id": f"{pid}/events/{event_id}/ticks/{ticks}",
            "level": "Informational" if event_status != "Failed" else "Error",
            "resourceGroupName": rg,
            "resourceProviderName": {"value": "Microsoft.Security", "localizedValue": "Microsoft.Security"},
            "resourceId": pid,
            "resourceType": {"value": JIT_TYPE, "localizedValue": JIT_TYPE},
            "operationId": operation_id,
            "operationName": {"value": action, "localizedValue": localized},
            "properties": {"eventCategory": "Administrative", "entity": pid, "message": action,
                           "hierarchy": f"{demo.TENANT_ID}/{sub_id}", **({"statusCode": sub_status} if sub_status else {})},
            "status": {"value": event_status, "localizedValue": event_status},
            "subStatus": {"value": sub_status, "localizedValue": sub_status},
            "eventTimestamp": format_time(when),
            "submissionTimestamp": format_time(when + dt.timedelta(seconds=12)),
            "subscriptionId": sub_id,
            "tenantId": demo.TENANT_ID,
        })


def add_seeded_request(world: dict, vm_id: str, number: int, person: demo.Person, start: dt.datetime,
                       end: dt.datetime, justification: str, source: str, now: dt.datetime) -> None:
    policy = next(p for p in world["policies"].values()
                  if any(v["id"].lower() == vm_id.lower() for v in p["properties"]["virtualMachines"]))
    _revoke_older(world, policy, vm_id, number)
    start_text = format_time(start)
    active = end > now
    policy["properties"]["requests"].append({
        "virtualMachines": [{"id": vm_id, "ports": [{
            "number": number, "allowedSourceAddressPrefix": source, "endTimeUtc": format_time(end),
            "status": "Initiated" if active else "Revoked", "statusReason": "UserRequested" if active else "Expired"}]}],
        "startTimeUtc": start_text, "requestor": person.username, "justification": justification})
    if active:
        _add_allow_rule(world, vm_id, start_text, number, source)
    caller = {"upn": person.username, "name": person.display_name, "oid": person.object_id, "ip": source}
    record_event(world, "initiate", policy["id"], caller, "Succeeded", start, str(uuid.uuid4()), "Accepted")
