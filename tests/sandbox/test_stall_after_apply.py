"""A write that Azure applied but whose answer never reached the client (issue 11's "unknown outcome"):
the `stall-after-apply` fault runs the handler, then holds the answer past the client's timeout."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from sandbox.timeutil import format_time

pytestmark = pytest.mark.integration

PORTS = [{"number": 22, "protocol": "TCP", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}]


def _vm(subs) -> str:
    return f"/subscriptions/{subs['dev']}/resourceGroups/rg-build/providers/Microsoft.Compute/virtualMachines/build-01"


def _put(policies, subs, **call):
    return policies.create_or_update(
        "rg-build",
        "westus2",
        "default",
        {"kind": "Basic", "properties": {"virtualMachines": [{"id": _vm(subs), "ports": PORTS}]}},
        **call,
    )


@pytest.mark.parametrize("drop_after", [False, True])
def test_the_client_times_out_yet_the_policy_was_written(sandbox, clients_for, subs, drop_after):
    policies = clients_for("bob").security(subs["dev"]).jit_network_access_policies
    sandbox.control(
        "POST",
        "faults",
        {"operation": "jit.put", "kind": "stall-after-apply", "seconds": 2, "count": 1, "drop_after": drop_after},
    )
    started = time.monotonic()
    with pytest.raises((ServiceResponseError, ServiceRequestError)):
        _put(policies, subs, read_timeout=0.5, retry_total=0)
    assert time.monotonic() - started < 2  # the client gave up; the sandbox was still holding the answer
    policy = policies.get("rg-build", "westus2", "default")
    assert [v.id for v in policy.virtual_machines] == [_vm(subs)]
    correlation = {
        e.correlation_id
        for e in clients_for("carol")
        .monitor(subs["dev"])
        .activity_logs.list(
            f"eventTimestamp ge '{format_time(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))}' and "
            f"eventTimestamp le '{format_time(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))}' and "
            "resourceGroupName eq 'rg-build'"
        )
    }
    assert len(correlation) == 1  # the write is in the Activity Log, once


def test_an_initiate_that_stalls_still_grants_access(sandbox, clients_for, subs):
    bob = clients_for("bob").security(subs["dev"]).jit_network_access_policies
    _put(bob, subs)
    sandbox.control("POST", "faults", {"operation": "jit.initiate", "kind": "stall-after-apply", "seconds": 2})
    with pytest.raises(ServiceResponseError):
        clients_for("alice").security(subs["dev"]).jit_network_access_policies.initiate(
            "rg-build",
            "westus2",
            "default",
            {
                "virtualMachines": [
                    {
                        "id": _vm(subs),
                        "ports": [
                            {
                                "number": 22,
                                "endTimeUtc": format_time(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)),
                                "allowedSourceAddressPrefix": "203.0.113.5",
                            }
                        ],
                    }
                ]
            },
            read_timeout=0.5,
            retry_total=0,
        )
    requests = bob.get("rg-build", "westus2", "default").requests
    assert [(r.requestor, r.virtual_machines[0].ports[0].status) for r in requests] == [
        ("alice@contoso.test", "Initiated")
    ]


def test_the_control_api_wants_seconds_for_a_stall(sandbox):
    answer = sandbox.http().post(
        f"{sandbox.base_url}/_sandbox/faults", json={"operation": "jit.put", "kind": "stall-after-apply"}, timeout=10
    )
    assert answer.status_code == 400 and "stall-after-apply" in answer.json()["error"]
