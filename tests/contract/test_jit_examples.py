"""Microsoft's own JIT examples (api-version 2020-01-01) through the real SecurityCenter client.

Each example's subscription, resource group, region and VM are mapped onto a demo VM that can take
JIT (rg-build in westus2); the rest of each example is sent as it is, and what comes back must have
the example's shape, ids and status codes, plus the live service's quirks from the recordings.
The examples are copies kept in `examples/` (see its README for the source).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from sandbox.timeutil import format_time
from tests.contract.shapes import assert_has_shape, shape

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parent / "examples"
EXAMPLE_SUB = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"


@pytest.fixture
def example(subs):
    def load(name: str) -> dict:
        text = (EXAMPLES / name).read_text()
        for old, new in (
            (EXAMPLE_SUB, subs["dev"]),
            ("myRg1", "rg-build"),
            ("westeurope", "westus2"),
            ("virtualMachines/vm1", "virtualMachines/build-01"),
        ):
            text = text.replace(old, new)
        return json.loads(text)

    return load


def raw(**kwargs):
    return lambda response, deserialized, headers: (response.http_response.status_code, response.http_response.text())


def _put(client, create: dict):
    p = create["parameters"]
    return client.jit_network_access_policies.create_or_update(
        p["resourceGroupName"],
        p["ascLocation"],
        p["jitNetworkAccessPolicyName"],
        io.BytesIO(json.dumps(p["body"]).encode()),
        content_type="application/json",
        cls=raw(),
    )


def test_create_answers_like_the_example_and_the_live_service(clients_for, subs, example):
    create = example("CreateJitNetworkAccessPolicy_example.json")
    status, text = _put(clients_for("bob").security(subs["dev"]), create)
    body = json.loads(text)
    expected = create["responses"]["200"]["body"]
    assert status == 200
    assert_has_shape(body, shape(expected))
    assert (body["id"], body["name"], body["type"], body["location"], body["kind"]) == (
        expected["id"],
        expected["name"],
        expected["type"],
        expected["location"],
        expected["kind"],
    )
    assert body["properties"]["virtualMachines"] == expected["properties"]["virtualMachines"]
    # live quirks (recorded-azure-powershell): provisioningState "Updating" and appendMode false
    assert body["properties"]["provisioningState"] == "Updating"
    assert body["properties"]["appendMode"] is False
    assert body["properties"]["requests"] == []  # the body's requests are not taken; history is Azure's own


def _initiate_body(example) -> dict:
    initiate = example("InitiateJitNetworkAccessPolicy_example.json")
    body = initiate["parameters"]["body"]
    end = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    body["virtualMachines"][0]["ports"][0]["endTimeUtc"] = format_time(end)
    return initiate


def test_initiate_answers_202_with_a_body_like_the_example(clients_for, subs, example):
    security = clients_for("bob").security(subs["dev"])
    create = example("CreateJitNetworkAccessPolicy_example.json")
    _put(security, create)
    initiate = _initiate_body(example)
    p = initiate["parameters"]
    status, text = security.jit_network_access_policies.initiate(
        p["resourceGroupName"],
        p["ascLocation"],
        p["jitNetworkAccessPolicyName"],
        io.BytesIO(json.dumps(p["body"]).encode()),
        content_type="application/json",
        cls=raw(),
    )
    body = json.loads(text)
    assert status == 202
    assert_has_shape(body, shape(initiate["responses"]["202"]["body"]))
    port = body["virtualMachines"][0]["ports"][0]
    assert port["status"] == "Initiating" and port["statusReason"] == "UserRequested"
    assert port["allowedSourceAddressPrefix"] == "192.127.0.2"
    assert body["requestor"] == "bob@contoso.test"
    assert body["justification"] == "testing a new version of the product"
    assert body["virtualMachines"][0]["id"] == p["body"]["virtualMachines"][0]["id"]


@pytest.mark.parametrize(
    "name, call",
    [
        (
            "GetJitNetworkAccessPolicy_example.json",
            lambda ops, p: ops.get(p["resourceGroupName"], p["ascLocation"], p["jitNetworkAccessPolicyName"]),
        ),
        ("GetJitNetworkAccessPoliciesSubscription_example.json", lambda ops, p: list(ops.list())),
        (
            "GetJitNetworkAccessPoliciesSubscriptionLocation_example.json",
            lambda ops, p: list(ops.list_by_region(p["ascLocation"])),
        ),
        (
            "GetJitNetworkAccessPoliciesResourceGroup_example.json",
            lambda ops, p: list(ops.list_by_resource_group(p["resourceGroupName"])),
        ),
        (
            "GetJitNetworkAccessPoliciesResourceGroupLocation_example.json",
            lambda ops, p: list(ops.list_by_resource_group_and_region(p["resourceGroupName"], p["ascLocation"])),
        ),
    ],
)
def test_reads_answer_like_the_examples(clients_for, subs, example, name, call):
    security = clients_for("carol").security(subs["dev"])
    _put(clients_for("bob").security(subs["dev"]), example("CreateJitNetworkAccessPolicy_example.json"))
    p = _initiate_body(example)["parameters"]
    clients_for("alice").security(subs["dev"]).jit_network_access_policies.initiate(
        p["resourceGroupName"],
        p["ascLocation"],
        "default",
        io.BytesIO(json.dumps(p["body"]).encode()),
        content_type="application/json",
    )
    spec = example(name)
    result = call(security.jit_network_access_policies, spec["parameters"])
    expected = spec["responses"]["200"]["body"]
    if isinstance(result, list):
        policies = [r.serialize(keep_readonly=True) for r in result]
        wanted = expected["value"][0]
        mine = [x for x in policies if x["id"] == wanted["id"]]
        assert len(mine) == 1, [x["id"] for x in policies]
        if name.startswith("GetJitNetworkAccessPoliciesResourceGroupLocation"):
            assert len(policies) == 1
        got = mine[0]
    else:
        got, wanted = result.serialize(keep_readonly=True), expected
    assert_has_shape(got, shape(wanted))
    assert got["id"] == wanted["id"] and got["location"] == "westus2"
    assert got["properties"]["virtualMachines"] == wanted["properties"]["virtualMachines"]
    request = got["properties"]["requests"][-1]
    assert request["requestor"] == "alice@contoso.test"
    assert request["virtualMachines"][0]["ports"][0]["status"] == "Initiated"


def test_delete_answers_200_with_an_empty_body_then_204(clients_for, subs, example):
    security = clients_for("bob").security(subs["dev"])
    _put(security, example("CreateJitNetworkAccessPolicy_example.json"))
    p = example("DeleteJitNetworkAccessPolicy_example.json")["parameters"]
    first = security.jit_network_access_policies.delete(
        p["resourceGroupName"], p["ascLocation"], p["jitNetworkAccessPolicyName"], cls=raw()
    )
    second = security.jit_network_access_policies.delete(
        p["resourceGroupName"], p["ascLocation"], p["jitNetworkAccessPolicyName"], cls=raw()
    )
    assert first == (200, "") and second == (204, "")
