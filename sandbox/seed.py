"""The demo world with a past: the fleet, plus who enabled JIT and who asked for access, and when.

The past goes through the JIT rules and the Activity Log as live calls do, so NSG rules, request
statuses and events agree with each other. Times are placed relative to the clock's `now`.
"""

from __future__ import annotations

import datetime as dt
import uuid

from . import activity, demo, fleet, jit, nsg
from .timeutil import format_time

# (vm, port, requestor key, started hours ago, lasting hours, justification, source)
DEMO_HISTORY = [
    ("web-01", 22, "alice", 0.5, 2.0, "Deploying hotfix 4.2.1", "203.0.113.7"),
    ("web-02", 22, "alice", 30.0, 1.0, "Investigating disk alert", "203.0.113.7"),
    ("web-01", 22, "bob", 74.0, 3.0, "Kernel patching", "198.51.100.20"),
    ("web-03", 3389, "alice", 240.0, 1.0, "Old troubleshooting session", "203.0.113.7"),
    ("sql-01", 3389, "bob", 1.0, 3.0, "Index maintenance", "198.51.100.20"),
    ("sql-02", 3389, "alice", 200.0, 2.0, "Query tuning", "203.0.113.9"),
    ("dev-01", 22, "alice", 5.0, 1.0, "Debugging build agent", "203.0.113.7"),
    ("dev-02", 3389, "bob", 50.0, 1.0, "Installing IIS role", "198.51.100.20"),
    ("ad-01", 3389, "bob", 12.0, 1.0, "Group policy update", "198.51.100.20"),
]


def seed(world: dict, now: dt.datetime) -> None:
    """Fill an empty world with the demo fleet, people, policies and request history."""
    fleet.build_demo(world)
    bob = _caller(demo.person("bob"), "198.51.100.20", "Security Admin")
    for policy in world["policies"].values():
        activity.record(
            world,
            "write",
            policy["id"],
            bob,
            "Succeeded",
            now - dt.timedelta(days=20),
            fleet.stable_uuid("seed-write", policy["id"]),
            "OK",
        )
    for vm_name, port, who, ago, hours, why, source in sorted(DEMO_HISTORY, key=lambda h: -h[3]):
        vm = next(v for v in world["vms"].values() if v["name"] == vm_name)
        start = now - dt.timedelta(hours=ago)
        _add_request(
            world, vm["id"], port, demo.person(who), start, start + dt.timedelta(hours=hours), why, source, now
        )
    _findings(world)


def _findings(world: dict) -> None:
    """One VM in each state of JIT's health, as Azure gets there (docs/architecture.md, JIT you can verify):
    web-01 and sql-01 open now by JIT, the other configured VMs protected, and these."""
    nsgs = {n["name"]: n for n in world["nsgs"].values()}
    # Bypassed, critical: an older allow rule has a lower number than JIT's deny rule.
    add_rule(nsgs["sql-02-nsg"], "allow-ssh", 290, "Internet", "22")
    # Bypassed, narrow: an office range allowed by hand.
    add_rule(nsgs["dev-03-nsg"], "allow-ssh-office", 310, "198.51.100.0/28", "22")
    # Deny rule missing: the NSG redeployed from its template, as infrastructure-as-code does.
    nsg.redeploy(nsgs["dev-02-nsg"])
    # Left-over allow: dev-01's request has ended, its allow rule stayed.
    dev_01 = next(v for v in world["vms"].values() if v["name"] == "dev-01")
    policy = next(
        p
        for p in world["policies"].values()
        if any(v["id"] == dev_01["id"] for v in p["properties"]["virtualMachines"])
    )
    request = next(r for r in policy["properties"]["requests"] if r["virtualMachines"][0]["id"] == dev_01["id"])
    port = request["virtualMachines"][0]["ports"][0]
    nsg.add_allow_rule(world, dev_01["id"], request["startTimeUtc"], port["number"], port["allowedSourceAddressPrefix"])
    # Exposed, no JIT: a VM outside JIT whose SSH is open to anyone.
    add_rule(nsgs["dev-06-nsg"], "allow-ssh-anywhere", 320, "*", "22")
    # An application security group: HTTPS to the web servers (no management port).
    web = next(n for n in world["nsgs"].values() if n["name"] == "nsg-rg-web-default")
    asg = next(a for a in world["asgs"].values() if a["name"] == "asg-web")
    add_rule(web, "allow-https-web", 310, "Internet", "443", destination_asg=asg["id"])


def add_rule(group: dict, name: str, priority: int, source: str, port: str, destination_asg: str = "") -> None:
    """An inbound allow rule written by hand (not JIT's)."""
    properties = {
        "protocol": "Tcp",
        "sourcePortRange": "*",
        "destinationPortRange": port,
        "sourceAddressPrefix": source,
        "destinationAddressPrefix": "*",
        "access": "Allow",
        "priority": priority,
        "direction": "Inbound",
        "provisioningState": "Succeeded",
    }
    if destination_asg:
        del properties["destinationAddressPrefix"]
        properties["destinationApplicationSecurityGroups"] = [{"id": destination_asg}]
    group["properties"]["securityRules"].append(
        {"id": f"{group['id']}/securityRules/{name}", "name": name, "properties": properties}
    )


def _caller(person: demo.Person, ip: str, role: str) -> dict:
    return {
        "upn": person.username,
        "name": person.display_name,
        "oid": person.object_id,
        "ip": ip,
        "role": role,
        "client_request_id": str(uuid.uuid4()),
    }


def _add_request(
    world: dict,
    vm_id: str,
    number: int,
    person: demo.Person,
    start: dt.datetime,
    end: dt.datetime,
    justification: str,
    source: str,
    now: dt.datetime,
) -> None:
    policy = next(
        p
        for p in world["policies"].values()
        if any(v["id"].lower() == vm_id.lower() for v in p["properties"]["virtualMachines"])
    )
    active = end > now
    jit.add_request(
        world,
        policy,
        {
            "virtualMachines": [
                {
                    "id": vm_id,
                    "ports": [
                        {
                            "number": number,
                            "allowedSourceAddressPrefix": source,
                            "endTimeUtc": format_time(end),
                            "status": "Initiated" if active else "Revoked",
                            "statusReason": "UserRequested" if active else "Expired",
                        }
                    ],
                }
            ],
            "startTimeUtc": format_time(start),
            "requestor": person.username,
            "justification": justification,
        },
    )
    role = "Security Admin" if person.key == "bob" else "JIT VM Access Requester"
    activity.record(
        world,
        "initiate",
        policy["id"],
        _caller(person, source, role),
        "Succeeded",
        start,
        str(uuid.uuid4()),
        "Accepted",
    )


def generated_history(world: dict, count: int, since: dt.datetime, until: dt.datetime) -> None:
    """`count` past access requests over a generated fleet's policies, evenly spread from `since` to `until`,
    each a line in its policy's history and the Activity Log events a live initiate leaves: volume for the
    audit's benchmarks. Already ended, so no NSG rule is left open."""
    policies = sorted(world["policies"].values(), key=lambda p: p["id"])
    people = (
        _caller(demo.person("alice"), "", "JIT VM Access Requester"),
        _caller(demo.person("bob"), "", "Security Admin"),
    )
    step = (until - since) / (count + 1)
    for i in range(count):
        policy = policies[i % len(policies)]
        vms = policy["properties"]["virtualMachines"]
        vm, start, caller = vms[(i // len(policies)) % len(vms)], since + step * (i + 1), people[i % 2]
        source = f"203.0.113.{i % 250 + 1}"
        policy["properties"]["requests"].append(
            {
                "virtualMachines": [
                    {
                        "id": vm["id"],
                        "ports": [
                            {
                                "number": 22,
                                "allowedSourceAddressPrefix": source,
                                "endTimeUtc": format_time(start + dt.timedelta(hours=1)),
                                "status": "Revoked",
                                "statusReason": "Expired",
                            }
                        ],
                    }
                ],
                "startTimeUtc": format_time(start),
                "requestor": caller["upn"],
                "justification": f"Generated request {i}",
            }
        )
        activity.record(
            world, "initiate", policy["id"], {**caller, "ip": source}, "Succeeded", start, str(uuid.uuid4()), "Accepted"
        )
