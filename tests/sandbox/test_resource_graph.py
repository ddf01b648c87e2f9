"""The sandbox's Resource Graph against its own ARM: the same rows, RBAC per row, quota, lag, latency, versions.

The queries the portal sends (docs/resource-graph.md) are run as they are, and their rows compared with what
the ARM lists give the same person.
"""

from __future__ import annotations

import time

import pytest
from azure.mgmt.network.models import SecurityRule

from core.gateway.graph import QUERIES, TYPES
from tests.azure_view import Clients

pytestmark = pytest.mark.integration

GRAPH = "/providers/Microsoft.ResourceGraph/resources"
# The portal's query family, as it sends it (docs/resource-graph.md): every kind the pages use from `resources` in
# one query, told apart by type; Defender's pricing from `securityresources`.
PORTAL_QUERIES = QUERIES


def by_kind(rows: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {kind: [] for kind in TYPES.values()}
    for row in rows:
        kinds[TYPES[row["type"]]].append(row)
    return kinds


@pytest.fixture
def graph(sandbox, token_for):
    """POST a query as a person; the raw answer (status, JSON, headers)."""

    def query(
        user_key: str, text: str, subscriptions: list[str] | None = None, api_version: str = "2022-10-01", **options
    ):
        body: dict = {"query": text, "options": {"resultFormat": "objectArray", **options}}
        if subscriptions is not None:
            body["subscriptions"] = subscriptions
        return sandbox.http().post(
            f"{sandbox.base_url}{GRAPH}",
            params={"api-version": api_version},
            json=body,
            headers={"Authorization": f"Bearer {token_for(user_key)}"},
            timeout=30,
        )

    return query


def every_row(graph, user_key: str, text: str, subscriptions: list[str] | None, top: int = 1000) -> list[dict]:
    rows: list[dict] = []
    token = None
    while True:
        answer = graph(user_key, text, subscriptions, **{"$top": top, **({"$skipToken": token} if token else {})})
        assert answer.status_code == 200, answer.text
        rows += answer.json()["data"]
        token = answer.json().get("$skipToken")
        if not token:
            return rows


def test_every_query_the_portal_sends_gives_the_rows_the_arm_lists_give(graph, clients_for, subs, sandbox):
    sandbox.control("POST", "resource-graph", {"quota": 1000})  # this test asks more than 15 times in 5 s
    carol = clients_for("carol")
    for sub in subs.values():
        network = carol.network(sub)
        compute = carol.compute(sub)
        arm = {
            "vms": {v.id.lower(): v.storage_profile.os_disk.os_type for v in compute.virtual_machines.list_all()},
            "nics": {
                n.id.lower(): n.network_security_group.id if n.network_security_group else ""
                for n in network.network_interfaces.list_all()
            },
            "vnets": {v.id.lower(): v.address_space.address_prefixes for v in network.virtual_networks.list_all()},
            "pips": {p.id.lower(): p.ip_address for p in network.public_ip_addresses.list_all() if p.ip_address},
            "firewalls": {
                f.id.lower(): f.firewall_policy.id if f.firewall_policy else ""
                for f in network.azure_firewalls.list_all()
            },
            "nsgs": {
                n.id.lower(): sorted(r.name for r in n.security_rules)
                for n in network.network_security_groups.list_all()
            },
        }
        graph_rows = by_kind(every_row(graph, "carol", PORTAL_QUERIES["resources"], [sub]))
        assert {r["id"].lower(): r["osType"] for r in graph_rows["vms"]} == arm["vms"]
        assert {r["id"].lower(): r["nsg"] for r in graph_rows["nics"]} == arm["nics"]
        assert all(r["nsg"] == "" and r["ipConfigurations"] is None for r in graph_rows["vms"])  # not a VM's columns
        assert {r["id"].lower(): r["prefixes"] for r in graph_rows["vnets"]} == arm["vnets"]
        assert {r["id"].lower(): r["ip"] for r in graph_rows["pips"]} == arm["pips"]
        assert {r["id"].lower(): r["firewallPolicy"] for r in graph_rows["firewalls"]} == arm["firewalls"]
        assert {r["id"].lower(): sorted(x["name"] for x in r["securityRules"]) for r in graph_rows["nsgs"]} == arm[
            "nsgs"
        ]
        assert all(len(r["defaultSecurityRules"]) == 6 for r in graph_rows["nsgs"])
        assert all(r["subscriptionId"] == sub for rows in graph_rows.values() for r in rows)
    everything = by_kind(every_row(graph, "carol", PORTAL_QUERIES["resources"], list(subs.values()), top=50))
    assert {r["name"]: r["power"] for r in everything["vms"]}["web-06"] == "PowerState/deallocated"
    assert all(r["nics"][0]["id"] and r["admin"] == "azureuser" for r in everything["vms"])
    assert [(r["name"], r["classicPower"], r["classicOs"]) for r in everything["classic"]] == [
        ("classic-01", "Started", "Windows")
    ]
    pricings = every_row(graph, "carol", PORTAL_QUERIES["pricings"], list(subs.values()))
    assert {r["subscriptionId"]: r["subPlan"] for r in pricings} == {
        subs["prod"]: "P2",
        subs["dev"]: "P2",
        subs["shared"]: "P2",
        subs["legacy"]: "P1",
    }


def test_a_row_has_the_fields_resource_graph_documents(graph, subs):
    answer = graph(
        "carol", "Resources | where type =~ 'Microsoft.Compute/virtualMachines' and name == 'web-01'", [subs["prod"]]
    )
    [row] = answer.json()["data"]
    assert {
        "id",
        "name",
        "type",
        "tenantId",
        "kind",
        "location",
        "resourceGroup",
        "subscriptionId",
        "managedBy",
        "sku",
        "plan",
        "properties",
        "tags",
        "identity",
        "zones",
        "extendedLocation",
    } <= set(row)
    assert (row["type"], row["resourceGroup"], row["subscriptionId"]) == (
        "microsoft.compute/virtualmachines",
        "rg-web",
        subs["prod"],
    )
    assert row["properties"]["extended"]["instanceView"]["powerState"] == {
        "code": "PowerState/running",
        "level": "Info",
        "displayStatus": "VM running",
    }
    # JIT policies are not in Resource Graph, in either table
    for table in ("resources", "securityresources"):
        policies = graph(
            "bob", f"{table} | where type contains 'jitnetworkaccesspolicies' | project id", [subs["prod"]]
        )
        assert policies.json()["totalRecords"] == 0


def test_a_person_gets_only_the_rows_their_roles_let_them_read(graph, subs, token_for):
    for person in ("carol", "grace"):
        token_for(person)  # signed in before the queries: a sign-in is a write, and writes renew kept results
    everything = list(subs.values())
    kinds = "Resources | summarize count() by type | order by type asc"

    def counts(user_key: str, subscriptions: list[str]) -> dict[str, int]:
        return {r["type"].rsplit("/", 1)[1]: r["count_"] for r in graph(user_key, kinds, subscriptions).json()["data"]}

    # Grace: Reader on rg-shared of Shared services (not rg-monitor, nor the network team's rg-network), even
    # right after Carol, who reads all of it, ran the same query (results are kept by read scope, not by query)
    text = "Resources | project id, resourceGroup"
    assert {r["resourceGroup"] for r in graph("carol", text, [subs["shared"]]).json()["data"]} == {
        "rg-shared",
        "rg-monitor",
        "rg-network",
    }
    shared = graph("grace", text, [subs["shared"]]).json()["data"]
    assert shared and {r["resourceGroup"] for r in shared} == {"rg-shared"}
    # ... and only JIT VM Access Requester on Legacy apps: VMs, NICs and public IPs, no NSGs nor networks
    assert set(counts("grace", [subs["legacy"]])) == {"virtualmachines", "networkinterfaces", "publicipaddresses"}
    # subscriptions outside one's access are skipped without a word, as Azure does
    alice = graph("alice", kinds, everything)
    assert alice.status_code == 200
    assert counts("alice", everything) == counts("alice", [subs["prod"], subs["dev"]])
    nobody = graph("dave", "Resources", everything)
    assert nobody.status_code == 200 and nobody.json()["data"] == [] and nobody.json()["totalRecords"] == 0
    # no subscriptions named: all the person's
    assert counts("erin", None) == counts("erin", [subs["shared"]]) != {}


def test_pages_are_stable_and_a_token_from_another_query_is_refused(graph, subs):
    text = "Resources | project id, name | order by name asc"
    first = graph("carol", text, [subs["prod"]], **{"$top": 10}).json()
    again = graph("carol", text, [subs["prod"]], **{"$top": 10}).json()
    assert first["$skipToken"] == again["$skipToken"] and first["data"] == again["data"]
    rows = every_row(graph, "carol", text, [subs["prod"]], top=10)
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows) and len(rows) == first["totalRecords"]
    skipped = graph("carol", text, [subs["prod"]], **{"$top": 5, "$skip": 10}).json()
    assert skipped["data"] == rows[10:15]
    foreign = graph("carol", "Resources | project id", [subs["prod"]], **{"$skipToken": first["$skipToken"]})
    assert foreign.status_code == 400 and foreign.json()["error"]["details"][0]["code"] == "InvalidSkipToken"
    unpaged = graph("carol", "Resources | project name", [subs["prod"]], **{"$top": 5}).json()
    assert (unpaged["count"], unpaged["resultTruncated"], "$skipToken" in unpaged) == (5, "true", False)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "Resources | mv-expand properties.nics"}, "ParserFailure"),
        ({"query": ""}, "InvalidRequestContent"),
        ({"query": "Resources", "options": {"$top": 1001}}, "InvalidParameter"),
        ({"query": "Resources", "options": {"$top": 0}}, "InvalidParameter"),
        ({"query": "Resources", "options": {"$skip": -1}}, "InvalidParameter"),
        ({"query": "Resources", "options": {"resultFormat": "csv"}}, "InvalidParameter"),
        ({"query": "Resources", "subscriptions": ["not-a-guid"]}, "InvalidSubscriptionId"),
        ({"query": "Resources", "managementGroups": ["contoso"]}, "UnsupportedScope"),
    ],
)
def test_a_bad_request_gets_azures_error_shape(sandbox, token_for, body, code):
    answer = sandbox.http().post(
        f"{sandbox.base_url}{GRAPH}",
        params={"api-version": "2024-04-01"},
        json=body,
        headers={"Authorization": f"Bearer {token_for('carol')}"},
        timeout=30,
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "BadRequest" and error["message"].startswith("Please provide below info")
    assert code in [d["code"] for d in error["details"]]
    assert "x-ms-user-quota-remaining" in answer.headers


def test_it_serves_the_sdks_version_and_the_later_stable_ones_and_refuses_others(graph, subs, sandbox):
    for version in ("2021-03-01", "2022-10-01", "2024-04-01"):
        assert graph("carol", "Resources | limit 1", [subs["prod"]], api_version=version).status_code == 200
    refused = graph("carol", "Resources | limit 1", [subs["prod"]], api_version="2018-09-01-preview")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "NoRegisteredProviderFound"
    assert "'2021-03-01, 2022-10-01, 2024-04-01'" in refused.json()["error"]["message"]
    assert (
        sandbox.http()
        .post(f"{sandbox.base_url}{GRAPH}", params={"api-version": "2024-04-01"}, json={"query": "Resources"})
        .status_code
        == 401
    )


def test_the_quota_is_per_person_and_comes_back_after_its_window(graph, subs, sandbox):
    assert sandbox.control("GET", "resource-graph")["quota"] == 15  # the throttling guidance's example
    sandbox.control("POST", "resource-graph", {"quota": 3, "window_seconds": 1})
    answers = [graph("carol", "Resources | limit 1", [subs["prod"]]) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ms-user-quota-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["x-ms-user-quota-resets-after"] in ("00:00:00", "00:00:01") for a in answers)
    assert answers[3].headers["Retry-After"] == "1"
    assert answers[3].json()["error"]["details"][0]["code"] == "RateLimiting"
    assert graph("bob", "Resources | limit 1", [subs["prod"]]).status_code == 200  # another person's own quota
    time.sleep(1.05)
    assert graph("carol", "Resources | limit 1", [subs["prod"]]).headers["x-ms-user-quota-remaining"] == "2"


def test_a_write_shows_in_resource_graph_only_after_the_lag(graph, subs, sandbox, token_for):
    rules = (
        "Resources | where type =~ 'microsoft.network/networksecuritygroups' and name == 'nsg-rg-web-default' "
        "| project id, rules = properties.securityRules"
    )

    def rule_names() -> set[str]:
        [row] = graph("bob", rules, [subs["prod"]]).json()["data"]
        return {r["name"] for r in row["rules"]}

    sandbox.control("POST", "resource-graph", {"lag_seconds": 30})
    network = Clients(sandbox, token_for("bob")).network(subs["prod"])
    network.security_rules.begin_create_or_update(
        "rg-web",
        "nsg-rg-web-default",
        "allow-8080",
        SecurityRule(
            protocol="Tcp",
            source_port_range="*",
            destination_port_range="8080",
            source_address_prefix="*",
            destination_address_prefix="*",
            access="Allow",
            priority=3999,
            direction="Inbound",
        ),
    ).result()
    assert "allow-8080" in {
        r.name for r in network.network_security_groups.get("rg-web", "nsg-rg-web-default").security_rules
    }  # ARM at once
    assert "allow-8080" not in rule_names()
    sandbox.advance("PT29S")
    assert "allow-8080" not in rule_names()
    sandbox.advance("PT2S")
    assert "allow-8080" in rule_names()
    # with no lag, writes show at once
    sandbox.control("POST", "resource-graph", {"lag_seconds": 0})
    network.security_rules.begin_delete("rg-web", "nsg-rg-web-default", "allow-8080").result()
    assert "allow-8080" not in rule_names()


def test_the_arm_latency_and_the_call_count_apply_to_resource_graph(graph, subs, sandbox):
    sandbox.control("POST", "latency", {"operation": "*", "ms": 300})
    started = time.monotonic()
    assert graph("carol", "Resources | limit 1", [subs["prod"]]).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert sandbox.control("GET", "stats")["calls"]["resourceGraph.resources"] == 1
