"""Microsoft's Resource Graph examples (Resources - Resources, 2024-04-01) through the real ResourceGraphClient.

Each example's query goes to the sandbox as it is, with the example's subscription mapped onto a demo one (and
the paging examples' `contains 'test'` onto `contains 'web'`, a name the demo has); the answer must have the
example's shape. Then what the client itself meets: paging with `skip_token`, errors as `HttpResponseError`
with Azure's codes, and the 429 with its retry headers. The examples are copies in `examples/resourcegraph/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions, ResultFormat

from tests.azure_view import SCOPES, StaticToken
from tests.contract.shapes import assert_has_shape, shape

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parent / "examples" / "resourcegraph"
EXAMPLE_SUB = "cfbbd179-59d2-4052-aa06-9270a38aa9d6"


@pytest.fixture
def graph(sandbox, token_for):
    def client(user_key: str = "carol", **options) -> ResourceGraphClient:
        return ResourceGraphClient(
            credential=StaticToken(token_for(user_key)),
            base_url=sandbox.base_url,
            connection_verify=str(sandbox.ca_path),
            credential_scopes=SCOPES,
            **{"retry_total": 0, **options},
        )

    return client


@pytest.fixture
def example(subs):
    def load(name: str) -> dict:
        text = (EXAMPLES / name).read_text().replace(EXAMPLE_SUB, subs["prod"])
        return json.loads(text.replace("contains 'test'", "contains 'web'"))

    return load


def raw(response, deserialized, headers):
    return response.http_response.status_code, json.loads(response.http_response.text()), response.http_response.headers


def send(client: ResourceGraphClient, parameters: dict):
    """The example's request body as the client sends a QueryRequest; the raw answer back."""
    body = parameters["query"]
    options = body.get("options", {})
    request = QueryRequest(
        subscriptions=body["subscriptions"],
        query=body["query"],
        options=QueryRequestOptions(
            top=options.get("$top"), skip=options.get("$skip"), skip_token=options.get("$skipToken")
        ),
    )
    return client.resources(request, cls=raw, api_version=parameters["api-version"])


def test_the_basic_query_answers_like_the_example(graph, example):
    basic = example("ResourcesBasicQuery.json")
    status, body, _ = send(graph(), basic["parameters"])
    expected = basic["responses"]["200"]["body"]
    expected["data"][0]["tags"] = {}  # the demo tags nothing; tags is an object all the same
    assert status == 200
    assert_has_shape(body, shape(expected))
    assert (body["totalRecords"], body["count"], body["resultTruncated"], body["facets"]) == (3, 3, "false", [])
    assert [set(row) for row in body["data"]] == [set(row) for row in expected["data"]]
    # Resource Graph lower-cases types: microsoft.network/networkinterfaces, as in the example
    assert all(row["type"] == row["type"].lower() and "/" in row["type"] for row in body["data"])


def test_the_first_page_and_the_next_page_follow_one_another(graph, example):
    first = example("ResourcesFirstPageQuery.json")
    status, body, _ = send(graph(), first["parameters"])
    expected = first["responses"]["200"]["body"]
    assert status == 200
    assert_has_shape(body, shape(expected))
    # Production's names with "web": 6 VMs, their 6 NICs, 4 public IPs, the NSG, the virtual network, the ASG
    assert body["count"] == 3 and body["totalRecords"] == 19 and body["resultTruncated"] == "false"

    following = example("ResourcesNextPageQuery.json")
    following["parameters"]["query"]["options"]["$skipToken"] = body["$skipToken"]
    status, second, _ = send(graph(), following["parameters"])
    assert status == 200
    assert_has_shape(second, shape(following["responses"]["200"]["body"]))
    # no $top sent: the next page is as long as the first, as in the example
    assert second["count"] == 3 and second["$skipToken"] != body["$skipToken"]
    assert {r["id"] for r in body["data"]}.isdisjoint({r["id"] for r in second["data"]})
    assert all("web" in r["name"] for r in body["data"] + second["data"])


def test_the_properties_query_counts_by_a_property_path(graph, example, subs):
    properties = example("ResourcesPropertiesQuery.json")
    status, body, _ = send(graph(), properties["parameters"])
    assert status == 200
    expected = properties["responses"]["200"]["body"]
    # The example names the count column "count"; KQL's summarize count() names it count_, as the Complex example
    # shows (its `top 3 by count_` needs that name). The sandbox follows KQL.
    expected["data"] = [
        {"properties_storageProfile_osDisk_osType": r["properties_storageProfile_osDisk_osType"], "count_": r["count"]}
        for r in expected["data"]
    ]
    assert_has_shape(body, shape(expected))
    assert {r["properties_storageProfile_osDisk_osType"]: r["count_"] for r in body["data"]} == {
        "Linux": 7,
        "Windows": 5,
    }  # Production's 12 Resource Manager VMs (the classic one is another type)


def test_the_complex_query_projects_filters_counts_and_takes_the_top(graph, example):
    complex_query = example("ResourcesComplexQuery.json")
    status, body, _ = send(graph(), complex_query["parameters"])
    expected = complex_query["responses"]["200"]["body"]
    assert status == 200
    assert_has_shape(body, shape(expected))
    # Production: rg-web (6) and rg-legacy (2) in westeurope, rg-sql (4) in northeurope; the classic VM in eastus
    # is another type
    assert body["data"] == [{"location": "westeurope", "count_": 8}, {"location": "northeurope", "count_": 4}]
    assert (body["count"], body["totalRecords"]) == (2, 2)


def test_both_result_formats_answer_as_the_docs_show(graph, subs):
    query = "Resources | where type =~ 'Microsoft.Network/networkSecurityGroups' | project name, type, location, subscriptionId"
    samples = {
        f: json.loads((EXAMPLES / f"work-with-data.{f}-format.sample.json").read_text())
        for f in ("objectArray", "table")
    }
    for result_format in ("objectArray", "table"):
        answer = graph().resources(
            QueryRequest(
                subscriptions=[subs["prod"]],
                query=query,
                options=QueryRequestOptions(result_format=ResultFormat(result_format), top=1),
            ),
            cls=raw,
        )[1]
        assert_has_shape(answer, shape(samples[result_format]))
        # no id projected: no pages, and resultTruncated says rows were left out
        assert answer["resultTruncated"] == "true" and "$skipToken" not in answer
    table = answer["data"]
    assert table["columns"] == samples["table"]["data"]["columns"]
    assert table["rows"][0][1] == "microsoft.network/networksecuritygroups"


def test_the_client_pages_with_skip_token_to_the_last_row(graph, subs):
    query = "Resources | where type in~ ('microsoft.compute/virtualmachines', 'microsoft.network/networkinterfaces') | project id, name"
    request = QueryRequest(subscriptions=list(subs.values()), query=query, options=QueryRequestOptions(top=7))
    ids: list[str] = []
    while True:
        page = graph().resources(request)
        ids += [row["id"] for row in page.data]
        assert page.total_records == 80 and page.result_truncated == "false"
        if not page.skip_token:
            break
        request.options.skip_token = page.skip_token
    assert len(ids) == len(set(ids)) == 80  # 40 Resource Manager VMs and their NICs, each once


def test_a_query_it_cannot_run_is_an_http_response_error_with_azures_codes(graph, subs):
    with pytest.raises(HttpResponseError) as refused:
        graph().resources(QueryRequest(subscriptions=[subs["prod"]], query="Resources | mv-expand properties.nics"))
    assert refused.value.status_code == 400 and refused.value.error.code == "BadRequest"
    details = refused.value.error.details
    assert [d.code for d in details] == ["InvalidQuery", "ParserFailure"]
    assert "operator 'mv-expand'" in details[1].message
    with pytest.raises(HttpResponseError) as too_many:
        graph().resources(QueryRequest(subscriptions=[subs["prod"]] * 1001, query="Resources"))
    assert too_many.value.status_code == 400 and too_many.value.error.details[0].code == "TooManySubscriptions"


def test_a_throttled_client_is_told_when_to_come_back(graph, subs, sandbox):
    sandbox.control("POST", "resource-graph", {"quota": 2, "window_seconds": 5})
    request = QueryRequest(subscriptions=[subs["prod"]], query="Resources | project id | limit 1")
    remaining = [graph().resources(request, cls=raw)[2]["x-ms-user-quota-remaining"] for _ in range(2)]
    assert remaining == ["1", "0"]
    with pytest.raises(HttpResponseError) as throttled:
        graph().resources(request)
    assert throttled.value.status_code == 429 and throttled.value.error.code == "RateLimiting"
    headers = throttled.value.response.headers
    assert 1 <= int(headers["Retry-After"]) <= 5
    assert headers["x-ms-user-quota-remaining"] == "0"
    assert headers["x-ms-user-quota-resets-after"].startswith("00:00:0")
