"""The demo world with a past: the fleet, plus who enabled JIT and who asked for access, and when.

The past goes through the JIT rules and the Activity Log as live calls do, so NSG rules, request
statuses and events agree with each other. Times are placed relative to the clock's `now`.
"""

from __future__ import annotations

import datetime as dt
import uuid

from . import activity, demo, fleet, jit
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
        activity.record(world, "write", policy["id"], bob, "Succeeded", now - dt.timedelta(days=20),
                        fleet.stable_uuid("seed-write", policy["id"]), "OK")
    for vm_name, port, who, ago, hours, why, source in sorted(DEMO_HISTORY, key=lambda h: -h[3]):
        vm = next(v for v in world["vms"].values() if v["name"] == vm_name)
        start = now - dt.timedelta(hours=ago)
        _add_request(world, vm["id"], port, demo.person(who), start, start + dt.timedelta(hours=hours),
                     why, source, now)


def _caller(person: demo.Person, ip: str, role: str) -> dict:
    return {"upn": person.username, "name": person.display_name, "oid": person.object_id, "ip": ip, "role": role,
            "client_request_id": str(uuid.uuid4())}


def _add_request(world: dict, vm_id: str, number: int, person: demo.Person, start: dt.datetime,
                 end: dt.datetime, justification: str, source: str, now: dt.datetime) -> None:
    policy = next(p for p in world["policies"].values()
                  if any(v["id"].lower() == vm_id.lower() for v in p["properties"]["virtualMachines"]))
    active = end > now
    jit.add_request(world, policy, {
        "virtualMachines": [{"id": vm_id, "ports": [{
            "number": number, "allowedSourceAddressPrefix": source, "endTimeUtc": format_time(end),
            "status": "Initiated" if active else "Revoked", "statusReason": "UserRequested" if active else "Expired"}]}],
        "startTimeUtc": format_time(start), "requestor": person.username, "justification": justification})
    role = "Security Admin" if person.key == "bob" else "JIT VM Access Requester"
    activity.record(world, "initiate", policy["id"], _caller(person, source, role), "Succeeded", start,
                    str(uuid.uuid4()), "Accepted")


def generated_history(world: dict, count: int, since: dt.datetime, until: dt.datetime) -> None:
    """`count` past access requests over a generated fleet's policies, evenly spread from `since` to `until`,
    each a line in its policy's history and the Activity Log events a live initiate leaves: volume for the
    audit's benchmarks. Already ended, so no NSG rule is left open."""
    policies = sorted(world["policies"].values(), key=lambda p: p["id"])
    people = (_caller(demo.person("alice"), "", "JIT VM Access Requester"), _caller(demo.person("bob"), "", "Security Admin"))
    step = (until - since) / (count + 1)
    for i in range(count):
        policy = policies[i % len(policies)]
        vms = policy["properties"]["virtualMachines"]
        vm, start, caller = vms[(i // len(policies)) % len(vms)], since + step * (i + 1), people[i % 2]
        source = f"203.0.113.{i % 250 + 1}"
        policy["properties"]["requests"].append({
            "virtualMachines": [{"id": vm["id"], "ports": [{
                "number": 22, "allowedSourceAddressPrefix": source, "endTimeUtc": format_time(start + dt.timedelta(hours=1)),
                "status": "Revoked", "statusReason": "Expired"}]}],
            "startTimeUtc": format_time(start), "requestor": caller["upn"], "justification": f"Generated request {i}"})
        activity.record(world, "initiate", policy["id"], {**caller, "ip": source}, "Succeeded", start,
                        str(uuid.uuid4()), "Accepted")
