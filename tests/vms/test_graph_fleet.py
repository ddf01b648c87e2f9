"""The fleet through Azure Resource Graph (issue #27), through the real MSAL and SDK pipeline against the sandbox's
Resource Graph: the same tabs as the ARM lists, paging across batches, RBAC per row, the quota and 429s, the lag
behind ARM and the freshness after the portal's own write, the progress of a cold load."""

from __future__ import annotations

import time

import pytest

from tests.conftest import sign_in
from vms.inventory import forget

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _inventory(client):
    """The person's inventory once every subscription is in (a late one on a busy machine comes with a later view)."""
    page = client.get("/vms/")
    deadline = time.monotonic() + 15
    while page.context["inventory"].loading is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        page = client.get("/vms/")
    return page.context["inventory"]


def _rows(client, settings, source: str) -> dict:
    settings.FLEET_SOURCE = source
    forget()
    inventory = _inventory(client)
    assert inventory.sources == {source} and not inventory.failures
    return {r.vm_id: r for r in inventory.rows}


@pytest.mark.parametrize("person", ["bob", "grace"])
def test_the_tabs_are_the_same_through_resource_graph_as_through_the_arm_lists(portal, sandbox, settings, person):
    sign_in(portal, sandbox, person)
    settings.FLEET_SOURCE = "arm"
    failures = {f.subscription.display_name for f in _inventory(portal).failures}
    graph, arm = _rows(portal, settings, "graph") if not failures else None, None
    if failures:  # Grace reads no virtual networks of Legacy Apps: that subscription is a banner either way
        settings.FLEET_SOURCE = "graph"
        forget()
        assert {f.subscription.display_name for f in _inventory(portal).failures} == failures
        return
    arm = _rows(portal, settings, "arm")
    assert graph == arm  # every field of every row: tab, reason, protection, addresses, power, history, health


def test_rbac_per_row_a_person_sees_only_the_groups_azure_lets_them_read(portal, sandbox, settings):
    sign_in(portal, sandbox, "grace")  # Reader on rg-shared only, in Shared Services
    inventory = _inventory(portal)
    assert "graph" in inventory.sources
    shared = {r.resource_group for r in inventory.rows if r.subscription_name == "Contoso Shared Services"}
    assert shared == {"rg-shared"}
    legacy = next(f for f in inventory.failures if f.subscription.display_name == "Contoso Legacy Apps")
    assert "not all of their virtual networks" in legacy.message  # JIT VM Access Requester: no networks


def test_pages_of_several_batches_make_the_whole_fleet(portal, sandbox, settings):
    sandbox.control("POST", "fleet", {"vms": 1500, "subscriptions": 20})
    sign_in(portal, sandbox, "carol")
    settings.GRAPH_BATCH_SUBSCRIPTIONS = 10  # two batches; each one's resources query runs to two pages or more
    sandbox.control("POST", "stats")
    graph = _rows(portal, settings, "graph")
    queries = sandbox.control("GET", "stats")["calls"]["resourceGraph.resources"]
    assert len(graph) == 1500 and queries >= 2 * 2 + 2
    assert graph == _rows(portal, settings, "arm")


def test_the_portal_waits_out_resource_graphs_quota_and_reads_on(portal, sandbox, settings):
    sign_in(portal, sandbox, "carol")
    settings.GRAPH_BATCH_SUBSCRIPTIONS = 1  # four batches, eight queries
    sandbox.control("POST", "resource-graph", {"quota": 3, "window_seconds": 2})
    try:
        started = time.monotonic()
        inventory = _inventory(portal)
        assert time.monotonic() - started >= 2  # three queries, then the reset; three more, then another
        assert inventory.sources == {"graph"} and not inventory.notes and len(inventory.rows) == 41
    finally:
        sandbox.control("POST", "resource-graph", {"quota": 15, "window_seconds": 5})


def test_a_quota_that_resets_too_late_reads_through_the_arm_lists_and_says_so(portal, sandbox, settings):
    sign_in(portal, sandbox, "carol")
    sandbox.control("POST", "resource-graph", {"quota": 1, "window_seconds": 60})
    try:
        page = portal.get("/vms/")
        inventory = page.context["inventory"]
        assert len(inventory.rows) == 41 and not inventory.failures and inventory.sources == {"arm"}
        assert "Read through Azure Resource Manager&#x27;s lists" in page.content.decode()
        assert "quota for your queries resets in" in page.content.decode()
    finally:
        sandbox.control("POST", "resource-graph", {"quota": 15, "window_seconds": 5})


@pytest.mark.parametrize("settle, state", [(120, "protected"), (0, "bypassed")])
def test_after_its_own_write_the_portal_reads_arm_not_resource_graphs_lagging_copy(
    signed_in, sandbox, settings, view, settle, state
):
    """Resource Graph lags ARM: the rule Bob deletes is still in its copy for a minute. The portal reads the
    subscription it wrote to from ARM's lists for GRAPH_SETTLE_SECONDS, so the page shows what Azure holds (and,
    without that, the stale bypass)."""
    settings.GRAPH_SETTLE_SECONDS = settle
    bob = signed_in("bob")
    sandbox.control("POST", "resource-graph", {"lag_seconds": 60})
    try:
        url = f"/vms/{view.sub('Contoso Production')}/rg-sql/sql-02/"
        rule = (
            f"/subscriptions/{view.sub('Contoso Production')}/resourceGroups/rg-sql/providers/"
            "Microsoft.Network/networkSecurityGroups/sql-02-nsg/securityRules/allow-ssh"
        )
        assert next(r for r in _inventory(bob).rows if r.name == "sql-02").health.state == "bypassed"
        done = bob.post(f"{url}health/delete-rule", {"rule": rule}).context["done"]
        assert done.ok, done.message
        inventory = _inventory(bob)
        assert next(r for r in inventory.rows if r.name == "sql-02").health.state == state
        assert inventory.sources == ({"graph", "arm"} if settle else {"graph"})
    finally:
        sandbox.control("POST", "resource-graph", {"lag_seconds": 0})


def test_a_cold_load_shows_its_progress_then_the_tabs(portal, sandbox, settings):
    sign_in(portal, sandbox, "carol")
    settings.INVENTORY_PROGRESS_SECONDS = 1
    sandbox.control("POST", "latency", {"operation": "jit.list", "ms": 2500})
    sandbox.control("POST", "stats")
    page = portal.get("/vms/")
    text = page.content.decode()
    assert "Reading your fleet from Azure: 0 of 4 subscriptions in" in text
    assert '<meta http-equiv="refresh" content="0">' in text and "<progress" in text
    started = time.monotonic()
    while ("loading" in page.context or page.context["inventory"].loading is not None) and (
        time.monotonic() - started < 20
    ):
        page = portal.get("/vms/")  # each look waits on the server; the load went on between them
    assert len(page.context["inventory"].rows) == 41
    assert sandbox.control("GET", "stats")["calls"]["jit.list"] == 4  # one load, not a new one per look
