"""The three tabs against the sandbox: who sees what, in which tab, for which reason, at what cost."""

from __future__ import annotations

import time

import pytest

from tests.conftest import sign_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SEEDED = {"Contoso Production": 13, "Contoso Development": 16, "Contoso Shared Services": 9, "Contoso Legacy Apps": 3}


def _all_rows(client) -> list:
    return list(client.get("/vms/").context["inventory"].rows)


@pytest.mark.parametrize(
    "person, expected",
    [
        ("carol", SEEDED),
        ("bob", SEEDED),
        ("alice", {"Contoso Production": 13, "Contoso Development": 16}),
        ("grace", {"Contoso Production": 13, "Contoso Development": 16, "Contoso Shared Services": 3}),
    ],
)
def test_each_person_sees_exactly_the_vms_azure_allows(portal, sandbox, person, expected):
    sign_in(portal, sandbox, person)
    rows = _all_rows(portal)
    counted: dict[str, int] = {}
    for row in rows:
        counted[row.subscription_name] = counted.get(row.subscription_name, 0) + 1
    assert counted == expected
    if person == "grace":
        assert {r.resource_group for r in rows if r.subscription_name == "Contoso Shared Services"} == {"rg-shared"}


def test_dave_is_told_plainly_that_there_is_nothing_to_show(portal, sandbox):
    sign_in(portal, sandbox, "dave")
    page = portal.get("/vms/")
    assert page.status_code == 200
    assert "Azure gives you no subscriptions" in page.content.decode()


def test_each_vm_is_in_the_right_tab_with_the_azure_portal_reason(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    page = portal.get("/vms/")
    assert page.context["counts"] == {"configured": 10, "not-configured": 23, "unsupported": 8}
    assert "Configured (10)" in page.content.decode() and "Unsupported (8)" in page.content.decode()
    reasons = {r.name: r.reason for r in page.context["inventory"].rows if r.tab == "unsupported"}
    assert reasons == {
        "legacy-01": "Missing network security group (NSG) or Azure Firewall",
        "legacy-02": "Missing network security group (NSG) or Azure Firewall",
        "classic-01": "Classic VM",
        "old-01": "Other",
        "old-02": "Other",
        "old-03": "Other",
        "fw-01": "Azure Firewall managed by Azure Firewall Manager",
        "fw-02": "Azure Firewall managed by Azure Firewall Manager",
    }
    jump = next(r for r in page.context["inventory"].rows if r.name == "jump-01")
    assert jump.tab == "not-configured" and jump.protection == "Azure Firewall afw-rg-jump"


def _configured(client) -> dict:
    return {r.name: r for r in client.get("/vms/").context["inventory"].rows if r.tab == "configured"}


def test_seven_day_figures_last_access_and_last_user_follow_the_history_and_the_clock(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    rows = _configured(portal)
    assert (rows["web-01"].approved_7d, rows["web-01"].last_user) == (2, "alice@contoso.test")
    assert (rows["dev-02"].approved_7d, rows["dev-02"].last_user) == (1, "bob@contoso.test")
    assert (rows["web-03"].approved_7d, rows["web-03"].last_user) == (0, "alice@contoso.test")  # 10 days ago
    assert (rows["web-04"].approved_7d, rows["web-04"].last_access) == (0, None)
    last_access = rows["web-01"].last_access
    sandbox.advance("P5D")  # bob's web-01 request (74 h ago) and dev-02's (50 h ago) now fall outside 7 days
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "carol")  # the refresh token has expired by the sandbox clock too
    portal.post("/vms/refresh")
    later = _configured(portal)
    assert (later["web-01"].approved_7d, later["web-01"].last_access) == (1, last_access)
    assert later["dev-02"].approved_7d == 0 and later["sql-01"].approved_7d == 1


def _calls_for_one_page(portal, sandbox, vms: int) -> tuple[dict[str, int], int]:
    """Azure calls (per operation) for one page of `vms` VMs over 20 subscriptions, and the number of resource
    groups."""
    sandbox.control("POST", "fleet", {"vms": vms, "subscriptions": 20})
    portal.post("/vms/refresh")
    sandbox.control("POST", "stats")
    page = portal.get("/vms/")
    deadline = time.monotonic() + 15  # a subscription late on a busy machine comes in with a later view
    while page.context["inventory"].loading is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        page = portal.get("/vms/")
    rows = page.context["inventory"].rows
    assert len(rows) == vms
    groups = {(r.subscription_id, r.resource_group.lower()) for r in rows if r.tab != "unsupported"}
    return sandbox.control("GET", "stats")["calls"], len(groups)


def test_a_page_costs_arm_calls_per_subscription_and_group_never_per_vm(portal, sandbox, settings):
    settings.FLEET_SOURCE = "arm"
    sign_in(portal, sandbox, "carol")
    for vms in (100, 1000):
        calls, groups = _calls_for_one_page(portal, sandbox, vms)
        # subscriptions, ten lists per subscription (NSGs with their rules among them: health reads nothing per
        # VM), then what Carol may do in each subscription and (Reader: it does not cover them) resource group
        assert sum(calls.values()) == 1 + 20 * 10 + 20 + groups


def test_through_resource_graph_a_page_costs_a_query_a_batch_and_its_pages(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    for vms in (100, 1000):
        calls, groups = _calls_for_one_page(portal, sandbox, vms)
        graph = calls.pop("resourceGraph.resources")
        # two batches of 10 for the resources (a page per 1,000 rows: VMs, NICs, NSGs, networks, IPs), one for the
        # pricing; then per subscription its JIT policies and its rights, and each group's (Carol is Reader)
        assert 3 <= graph <= 3 + 4 * vms // 1000
        assert calls == {
            "subscriptions.list": 1,
            "jit.list": 20,
            "permissions.list": 20,
            "permissions.listForResourceGroup": groups,
        }


@pytest.mark.parametrize("source, operation", [("arm", "vms.list"), ("graph", "jit.list")])
@pytest.mark.parametrize("kind, words", [("503", "HTTP 503"), ("429", "Azure is throttling requests")])
def test_a_failing_subscription_gets_a_banner_and_the_rest_still_renders(
    portal, sandbox, settings, kind, words, source, operation
):
    settings.FLEET_SOURCE = source  # through Resource Graph, the JIT policies are its own ARM call
    sign_in(portal, sandbox, "carol")
    legacy = next(s["id"] for s in sandbox.info()["subscriptions"] if s["name"] == "Contoso Legacy Apps")
    sandbox.control(
        "POST", "faults", {"operation": operation, "kind": kind, "count": 50, "retry_after": 0, "path_contains": legacy}
    )
    page = portal.get("/vms/")
    assert page.status_code == 200 and len(page.context["inventory"].rows) == 41 - 3
    # Azure's retries make that subscription late: the page shows it as still loading, then as its failure.
    deadline = time.monotonic() + 15
    while page.context["inventory"].loading is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        page = portal.get("/vms/")
    text = page.content.decode()
    assert "Contoso Legacy Apps</strong> could not be shown" in text and words in text
    assert len(page.context["inventory"].rows) == 41 - 3


def test_a_slow_subscription_shows_as_still_loading_and_the_others_on_time(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    legacy = next(s["id"] for s in sandbox.info()["subscriptions"] if s["name"] == "Contoso Legacy Apps")
    sandbox.control("POST", "latency", {"operation": "*", "ms": 2000, "path_contains": legacy})
    started = time.monotonic()
    page = portal.get("/vms/")
    assert time.monotonic() - started < 1.5
    assert "Contoso Legacy Apps</strong> could not be shown: Azure has not answered yet" in page.content.decode()
    assert {r.subscription_name for r in page.context["inventory"].rows} == {
        "Contoso Production",
        "Contoso Development",
        "Contoso Shared Services",
    }
    deadline = time.monotonic() + 15  # its calls go on in the background; a later page shows them
    later = portal.get("/vms/")
    while later.context["inventory"].loading is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        later = portal.get("/vms/")
    assert later.context["inventory"].loading is None and not later.context["inventory"].failures
    assert len(later.context["inventory"].rows) == 41


@pytest.mark.parametrize(
    "query, warning",
    [
        ("subscription=not-a-subscription", "Ignored the subscription filter"),
        ("power=exploded", "Ignored the Power state filter"),
        ("tab=everything", "Ignored the tab filter"),
        ("q=" + "x" * 5000, "Ignored the Search by name filter"),
        ("per_page=100000", "Ignored the Per page filter"),
        ("page=99999", None),
        ("page=-3&sort=no_such_column", None),
        ("sort=%00%ff&region=%ff", "Ignored the region filter"),
    ],
)
def test_bad_query_strings_are_ignored_with_a_message_never_a_500(portal, sandbox, query, warning):
    sign_in(portal, sandbox, "carol")
    page = portal.get("/vms/?" + query)
    assert page.status_code == 200
    if warning:
        assert warning in page.content.decode()


def test_filters_search_and_sorting_narrow_the_table(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    page = portal.get("/vms/?tab=not-configured&q=BUILD&power=running&sort=-name")
    assert [r.name for r in page.context["table"].paginated_rows.data] == ["build-04", "build-02", "build-01"]
    by_region = portal.get("/vms/?tab=configured&region=northeurope")
    assert {r.record.name for r in by_region.context["table"].paginated_rows} == {"sql-01", "sql-02", "ad-01"}
