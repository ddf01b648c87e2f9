"""The sandbox's KQL subset (sandbox/kql.py): what each query gives over a few rows, and what it refuses."""

from __future__ import annotations

import pytest

from sandbox import kql

ROWS = [
    {
        "id": "/s/1/vm/web-01",
        "name": "web-01",
        "type": "microsoft.compute/virtualmachines",
        "location": "westeurope",
        "tags": {"env": "prod"},
        "properties": {"power": {"code": "PowerState/running"}, "nics": [{"id": "nic-1"}], "count": 3},
    },
    {
        "id": "/s/1/vm/Sql-02",
        "name": "Sql-02",
        "type": "microsoft.compute/virtualmachines",
        "location": "eastus",
        "tags": {},
        "properties": {"power": {"code": "PowerState/deallocated"}, "nics": [], "count": 10},
    },
    {
        "id": "/s/2/nic/n-1",
        "name": "n-1",
        "type": "microsoft.network/networkinterfaces",
        "location": "eastus",
        "tags": {"env": ""},
        "properties": {},
    },
]


def names(query: str) -> list:
    parsed = kql.parse(query)
    return [row.get("name") for row in kql.run(parsed.stages, ROWS)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Resources", ["web-01", "Sql-02", "n-1"]),
        ("resources | where type == 'microsoft.compute/virtualmachines'", ["web-01", "Sql-02"]),
        # == is case-sensitive, =~ not (type is lower case in Resource Graph)
        ("Resources | where type == 'Microsoft.Compute/virtualMachines'", []),
        ("Resources | where type =~ 'Microsoft.Compute/virtualMachines'", ["web-01", "Sql-02"]),
        ("Resources | where name != 'web-01'", ["Sql-02", "n-1"]),
        ("Resources | where name !~ 'SQL-02'", ["web-01", "n-1"]),
        ("Resources | where location in ('eastus', 'westus')", ["Sql-02", "n-1"]),
        ("Resources | where location in ('EastUS')", []),
        ("Resources | where location in~ ('EastUS')", ["Sql-02", "n-1"]),
        ("Resources | where name !in~ ('WEB-01', 'n-1')", ["Sql-02"]),
        ("Resources | where name !in ('WEB-01', 'n-1')", ["web-01", "Sql-02"]),
        ("Resources | where location == 'eastus' and type =~ 'microsoft.network/networkinterfaces'", ["n-1"]),
        ("Resources | where location == 'westeurope' or name == 'n-1'", ["web-01", "n-1"]),
        ("Resources | where not(location == 'eastus')", ["web-01"]),
        ("Resources | where isnotempty(tags.env)", ["web-01"]),
        ("Resources | where isempty(tags.env)", ["Sql-02", "n-1"]),
        ("Resources | where isnull(properties.power)", ["n-1"]),
        ("Resources | where properties.power.code =~ 'powerstate/running'", ["web-01"]),
        ("Resources | where properties['power']['code'] == 'PowerState/deallocated'", ["Sql-02"]),
        ("Resources | where tostring(properties.nics[0].id) == 'nic-1'", ["web-01"]),
        ("Resources | where tolower(name) == 'sql-02'", ["Sql-02"]),
        ("Resources | where toint(properties.count) > 5", ["Sql-02"]),
        ("Resources | where properties.count >= 3 and properties.count < 10", ["web-01"]),
        ("Resources | where name contains 'QL'", ["Sql-02"]),
        ("Resources | where name !contains 'QL'", ["web-01", "n-1"]),
        ("Resources | where id startswith '/s/2/'", ["n-1"]),
        (
            "Resources | where (location == 'eastus' or location == 'westeurope') and name != 'n-1'",
            ["web-01", "Sql-02"],
        ),
        # a query may start with its first operator (the 2019-04-01 examples)
        ("where name == 'n-1'", ["n-1"]),
        ("Resources | order by name asc", ["Sql-02", "n-1", "web-01"]),
        ("Resources | order by name", ["web-01", "n-1", "Sql-02"]),  # KQL: descending unless told
        ("Resources | sort by tolower(name) asc", ["n-1", "Sql-02", "web-01"]),
        ("Resources | order by location asc, name desc", ["n-1", "Sql-02", "web-01"]),
        ("Resources | limit 2", ["web-01", "Sql-02"]),
        ("Resources | take 1", ["web-01"]),
        ("Resources | top 1 by properties.count", ["Sql-02"]),
        ("Resources | top 2 by name asc", ["Sql-02", "n-1"]),
        ("Resources // a comment\n| where name == 'n-1'", ["n-1"]),
        ('Resources | where name == "web-01"', ["web-01"]),
    ],
)
def test_it_selects_and_orders_rows_as_kql_does(query, expected):
    assert names(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Resources | project id, name | limit 1", [{"id": "/s/1/vm/web-01", "name": "web-01"}]),
        # a dotted path's column is named with underscores (ResourcesFacetQuery.json's properties_storageProfile_…)
        ("Resources | project properties.power.code | limit 1", [{"properties_power_code": "PowerState/running"}]),
        (
            "Resources | project power = tostring(properties.power.code), n = name | limit 1",
            [{"power": "PowerState/running", "n": "web-01"}],
        ),
        (
            "Resources | project nics = properties.nics, missing = properties.nothing.here | limit 1",
            [{"nics": [{"id": "nic-1"}], "missing": None}],
        ),
        ("Resources | project name, tags | project-away tags | limit 1", [{"name": "web-01"}]),
        (
            "Resources | project name | extend upper = toupper(name), n = toint('7') | limit 1",
            [{"name": "web-01", "upper": "WEB-01", "n": 7}],
        ),
        ("Resources | project name, location | extend location = 'x' | limit 1", [{"name": "web-01", "location": "x"}]),
        ("Resources | summarize count()", [{"count_": 3}]),
        (
            "Resources | summarize count() by location",
            [{"location": "westeurope", "count_": 1}, {"location": "eastus", "count_": 2}],
        ),
        (
            "Resources | summarize n = count() by tostring(properties.power.code) | order by n asc | limit 1",
            [{"properties_power_code": "PowerState/running", "n": 1}],
        ),
        ("Resources | summarize count() by location | top 1 by count_", [{"location": "eastus", "count_": 2}]),
        ("Resources | where isnotempty(tags) | project tags | limit 1", [{"tags": {"env": "prod"}}]),
        ("Resources | project s = tostring(tags) | limit 1", [{"s": '{"env":"prod"}'}]),
    ],
)
def test_it_shapes_columns_as_kql_does(query, expected):
    parsed = kql.parse(query)
    assert kql.run(parsed.stages, ROWS) == expected


@pytest.mark.parametrize(
    ("query", "types"),
    [
        ("Resources | where type =~ 'Microsoft.Compute/virtualMachines'", {"microsoft.compute/virtualmachines"}),
        (
            "Resources | where type == 'microsoft.network/networkinterfaces' and name != 'x'",
            {"microsoft.network/networkinterfaces"},
        ),
        ("Resources | where type in~ ('A/b', 'c/D') | project id", {"a/b", "c/d"}),
        ("Resources | where type =~ 'a/b' | where type in~ ('a/b', 'c/d')", {"a/b"}),
        ("Resources | where type =~ 'a/b' or name == 'x'", None),  # an `or` may admit any type
        ("Resources | where name == 'x' and type =~ 'a/b'", None),  # only a leading test is read
        ("Resources | project id, type | where type =~ 'a/b'", None),
        ("Resources", None),
    ],
)
def test_it_tells_which_types_a_query_reads(query, types):
    admitted = kql.parse(query).types()
    assert (None if admitted is None else set(admitted)) == types


@pytest.mark.parametrize(
    ("query", "has_id"),
    [
        ("Resources", True),
        ("Resources | project id, name", True),
        ("Resources | project name", False),
        ("Resources | project id, name | project-away id", False),
        ("Resources | project name | extend id = name", True),
        ("Resources | summarize count() by location", False),
    ],
)
def test_it_tells_whether_the_result_keeps_id(query, has_id):
    assert kql.parse(query).projects("id") is has_id


@pytest.mark.parametrize(
    ("query", "token", "words"),
    [
        ("Resources | mv-expand properties.nics", "mv-expand", "does not support the operator 'mv-expand'"),
        ("Resources | parse id with * '/' rest", "parse", "does not support the operator 'parse'"),
        ("Resources | join (ResourceContainers) on subscriptionId", "join", "does not support the operator 'join'"),
        ("Resources | distinct location", "distinct", "does not support the operator 'distinct'"),
        ("Resources | where name has 'web'", "has", "does not support the operator 'has'"),
        ("Resources | project strlen(name)", "strlen", "does not support the function 'strlen()'"),
        ("Resources | summarize dcount(name)", "dcount", "supports only count() in summarize"),
        ("ResourceContainers | limit 1", "ResourceContainers", "has no table 'ResourceContainers'"),
        ("Resources | where", "", "Expected a value"),
        ("Resources | where name == 'x", "'", "Unexpected character"),
        ("Resources | limit x", "x", "Expected a whole number"),
        ("Resources | project id,", "", "Expected a value"),
        ("Resources | where name in ('a'", "", "Expected ')'"),
        ("Resources | where name == 'a' name", "name", "Expected '|' or the end"),
        ("", "", "Expected a table or an operator"),
    ],
)
def test_it_refuses_what_it_cannot_run_naming_it(query, token, words):
    with pytest.raises(kql.KqlError) as refused:
        kql.parse(query)
    assert refused.value.token == token
    assert words in str(refused.value)
    assert 0 <= refused.value.position <= len(query)
