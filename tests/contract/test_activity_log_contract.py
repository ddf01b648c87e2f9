"""The Activity Log (api-version 2015-04-01) as Microsoft documents it: the $filter grammar ("requires at
least the start date/time"; a time range plus at most one of resourceGroupName, resourceUri,
resourceProvider, correlationId; nothing else), $select, and events shaped like the spec's example
(`examples/GetActivityLogsFiltered.json`, see the README there)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError

from sandbox.timeutil import format_time
from tests.contract.shapes import assert_has_shape, shape

pytestmark = pytest.mark.integration

EXAMPLE = json.loads((Path(__file__).resolve().parent / "examples" / "GetActivityLogsFiltered.json").read_text())
# Claims only Microsoft accounts or group-heavy tokens carry; the rest of the example's claims are expected.
UNUSUAL_CLAIMS = {
    "puid",
    "groups",
    "appidacr",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "http://schemas.microsoft.com/claims/authnclassreference",
}


def _t(**delta) -> str:
    return format_time(dt.datetime.now(dt.UTC) + dt.timedelta(**delta))


@pytest.fixture
def monitor(clients_for, subs):
    """Bob enables JIT on build-01 and Alice asks for access; Carol (Reader) reads the Activity Log of Dev."""
    bob, alice = clients_for("bob"), clients_for("alice")
    vm = f"/subscriptions/{subs['dev']}/resourceGroups/rg-build/providers/Microsoft.Compute/virtualMachines/build-01"
    policies = bob.security(subs["dev"]).jit_network_access_policies
    policies.create_or_update(
        "rg-build",
        "westus2",
        "default",
        {
            "kind": "Basic",
            "properties": {
                "virtualMachines": [
                    {
                        "id": vm,
                        "ports": [
                            {
                                "number": 22,
                                "protocol": "TCP",
                                "allowedSourceAddressPrefix": "*",
                                "maxRequestAccessDuration": "PT3H",
                            }
                        ],
                    }
                ]
            },
        },
    )
    alice.security(subs["dev"]).jit_network_access_policies.initiate(
        "rg-build",
        "westus2",
        "default",
        {
            "virtualMachines": [
                {
                    "id": vm,
                    "ports": [{"number": 22, "endTimeUtc": _t(hours=1), "allowedSourceAddressPrefix": "203.0.113.5"}],
                }
            ],
            "justification": "contract",
        },
        headers={"x-ms-client-request-id": "11111111-2222-4333-8444-555555555555"},
    )
    return clients_for("carol").monitor(subs["dev"]).activity_logs


def _raw(monitor, query: str, select: str | None = None) -> list[dict]:
    return [e.as_dict(keep_readonly=True) for e in monitor.list(query, select=select)]


def test_events_have_the_shape_of_microsofts_example(monitor):
    example = (
        EXAMPLE["parameters"]["$filter"]
        .replace("2015-01-21T20:00:00Z", _t(days=-1))
        .replace("2015-01-23T20:00:00Z", _t(hours=1))
        .replace("MSSupportGroup", "rg-build")
    )
    events = [e for e in monitor.list(example) if e.event_name.value == "EndRequest"]
    initiate = next(e for e in events if e.operation_name.value.endswith("/initiate/action"))
    wire = initiate.serialize(keep_readonly=True)
    expected = EXAMPLE["responses"]["200"]["body"]["value"][0]
    expected = dict(expected, claims={k: v for k, v in expected["claims"].items() if k not in UNUSUAL_CLAIMS})
    assert_has_shape(wire, shape(expected))
    assert wire["httpRequest"] == {
        "clientRequestId": "11111111-2222-4333-8444-555555555555",
        "clientIpAddress": "127.0.0.1",
        "method": "POST",
    }
    assert wire["authorization"]["role"] == "JIT VM Access Requester"
    assert wire["subStatus"] == {"value": "Accepted", "localizedValue": "Accepted (HTTP Status Code: 202)"}
    assert wire["claims"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] == "alice@contoso.test"
    write = next(e for e in events if e.operation_name.value.endswith("/write")).serialize(keep_readonly=True)
    assert (write["httpRequest"]["method"], write["authorization"]["role"]) == ("PUT", "Security Admin")


@pytest.mark.parametrize(
    "query",
    [
        "eventTimestamp ge '{start}'",  # the start alone: up to now
        "eventTimestamp ge '{start}' and eventTimestamp le '{end}'",
        "eventTimestamp ge '{start}' and resourceGroupName eq 'rg-build'",
        "eventTimestamp ge '{start}' and eventTimestamp le '{end}' and resourceProvider eq 'Microsoft.Security'",
        "eventTimestamp ge '{start}' and eventTimestamp le '{end}' and resourceUri eq '{policy}'",
        "eventTimestamp ge {day}",  # the SDK's own sample: a bare date
        "eventTimestamp ge {day} and resourceGroupName eq 'rg-build'",
        "eventTimestamp  ge  '{start}'  and  eventTimestamp le '{end}'  AND resourceGroupName eq 'rg-build'",
        # Microsoft's article "Retrieve activity log data using Azure monitor REST API", its filter-and-select sample:
        # no space between a closing quote and the next "and"
        "eventTimestamp ge '{start}' and eventTimestamp le '{end}'and resourceGroupName eq 'rg-build'",
    ],
)
def test_the_documented_filter_forms_are_accepted(monitor, subs, query):
    policy = (
        f"/subscriptions/{subs['dev']}/resourceGroups/rg-build/providers/Microsoft.Security/locations/westus2/"
        "jitNetworkAccessPolicies/default"
    )
    text = query.format(
        start=_t(hours=-1),
        end=_t(hours=1),
        policy=policy,
        day=(dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat(),
    )
    operations = {e.operation_name.value for e in monitor.list(text)}
    assert "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action" in operations


def test_a_correlation_id_finds_one_operation(monitor):
    window = f"eventTimestamp ge '{_t(hours=-1)}' and eventTimestamp le '{_t(hours=1)}'"
    wanted = next(iter(monitor.list(window))).correlation_id
    found = list(monitor.list(f"{window} and correlationId eq '{wanted}'"))
    assert {e.correlation_id for e in found} == {wanted} and len(found) == 2  # BeginRequest and EndRequest


@pytest.mark.parametrize(
    "query,words",
    [
        ("", "start time"),
        ("resourceGroupName eq 'rg-build'", "start time"),
        ("eventTimestamp le '{end}'", "start time"),
        (
            "eventTimestamp ge '{start}' and caller eq 'alice@contoso.test'",
            "$filter=caller eq 'alice@contoso.test' is not supported.",
        ),
        (
            "eventTimestamp ge '{start}' and resourceGroupName eq 'a' and correlationId eq 'b'",
            "$filter=correlationId eq 'b' is not supported.",
        ),
        (
            "eventTimestamp ge '{start}' and resourceGroupName ne 'a'",
            "$filter=resourceGroupName ne 'a' is not supported.",
        ),
        ("eventTimestamp ge '{end}' and eventTimestamp le '{start}'", "must be earlier than the end time"),
        ("eventTimestamp ge 'yesterday'", "is not an ISO 8601 time"),
    ],
)
def test_everything_else_is_refused_in_arms_words(monitor, query, words):
    with pytest.raises(HttpResponseError) as caught:
        list(monitor.list(query.format(start=_t(hours=-1), end=_t(hours=1))))
    assert caught.value.status_code == 400 and caught.value.error.code == "BadRequest"
    assert words in caught.value.error.message


def test_select_returns_only_the_named_properties(monitor, sandbox, token_for, subs):
    answer = (
        sandbox.http()
        .get(
            f"{sandbox.base_url}/subscriptions/{subs['dev']}/providers/Microsoft.Insights/eventtypes/management/values",
            params={
                "api-version": "2015-04-01",
                "$filter": f"eventTimestamp ge '{_t(hours=-1)}'",
                "$select": "eventName,operationName, correlationId",
            },
            headers={"Authorization": f"Bearer {token_for('carol')}"},
        )
        .json()
    )
    assert answer["value"] and all(set(e) == {"eventName", "operationName", "correlationId"} for e in answer["value"])
