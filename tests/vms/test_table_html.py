"""The VM tabs' tables (vms/tables.py, templates/vms/_fleet_table.html and _fleet_row.html): django-tables2's own
header, sort links and pagination; each cell as a person and a screen reader meet it; hostile names escaped; rows
kept once per person."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from django.template.loader import get_template
from django.test import RequestFactory
from django.utils.html import escape
from django_tables2 import RequestConfig

from accounts.roles import ADMIN, AUDITOR, REQUESTER
from core.gateway import Permissions, Subscription
from tests.unit.builders import NOW, SUB, fleet, nic, policy, port, request, vm, vm_id
from vms.actions import TOO_LONG
from vms.inventory import Inventory, Selection, rows_of
from vms.tables import ConfiguredTable, NotConfiguredTable, TabRows, UnsupportedTable

NSG = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Network/networkSecurityGroups/nsg"
HOSTILE = "Contoso <b>\"&'x"  # a subscription's and a requestor's name are anyone's text
LONG = "a-vm-whose-name-is-far-too-long-for-a-jit-policy-x"  # with "default", past Azure's 56 characters
TABLES = {"configured": ConfiguredTable, "not-configured": NotConfiguredTable, "unsupported": UnsupportedTable}


def _inventory() -> Inventory:
    sub = fleet(
        (
            vm("web-01", nic="n1"),
            vm("quiet", nic="n1"),
            vm("open", nic="n2", rg="rg-ro"),
            vm("bare", nic="n3", rg="rg-bare"),
            vm("classic", classic=True),
            vm(LONG, nic="n1"),
        ),
        nics=(nic("n1", nsg=NSG), nic("n2", rg="rg-ro", nsg=NSG), nic("n3", rg="rg-bare", subnet="x")),
        policies=(
            policy(
                {"web-01": (port(22), port(3389, hours=1))},
                requests=(request("eve <script>", NOW - timedelta(hours=2), {"web-01": (22,)}),),
            ),
            policy({"open": (port(22),)}, rg="rg-ro"),
        ),
    )
    sub = replace(sub, subscription=Subscription(SUB, HOSTILE, "Enabled"))
    rights = {
        (SUB.lower(), "rg-web"): Permissions(((("*",), ()),)),
        (SUB.lower(), "rg-ro"): Permissions(((("*/read",), ()),)),
    }
    return Inventory(
        rows=tuple(rows_of(sub, NOW)),
        failures=(),
        subscription_count=1,
        azure_now=NOW,
        fetched_at=0.0,
        epochs={},
        rights=rights,
    )


def _table(
    tab: str, roles=frozenset(), query: str = "", per_page: int = 25, inventory: Inventory | None = None, **kwargs
):
    inventory = inventory or _inventory()
    http = RequestFactory().get(f"/vms/?tab={tab}&{query}")
    table = TABLES[tab](
        TabRows(Selection(inventory.rows), tab), request=http, roles=frozenset(roles), inventory=inventory, **kwargs
    )
    RequestConfig(http, paginate={"per_page": per_page}).configure(table)
    return table


def _html(table) -> str:
    return get_template(table.template_name).render({"table": table}, table.request)


def _normal(html: str) -> str:
    html = re.sub(r"\s+", " ", html)
    return re.sub(r"<(\w+) >", r"<\1>", re.sub(r"\s*([<>])\s*", r"\1", html))


def _rows(html: str) -> list[dict[str, str]]:
    """Each body row as {column header: the cell's inner HTML}."""
    html = _normal(html)
    headers = [re.sub(r"<[^>]+>", "", th) for th in re.findall(r"<th[^>]*>(.*?)</th>", html)]
    body = html[html.index("<tbody") : html.index("</tbody>")]
    return [
        dict(zip(headers, re.findall(r"<td[^>]*>(.*?)</td>", tr), strict=True))
        for tr in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def _row(html: str, name: str) -> dict[str, str]:
    return next(r for r in _rows(html) if f">{name}</a>" in r["VM"])


@pytest.mark.parametrize(
    "tab, query",
    [
        *((tab, query) for tab in TABLES for query in ("", "sort=-name&q=x", "sort=-resource_group&page=2")),
        ("configured", "sort=last_access&per_page=10"),
        ("configured", "sort=-health&page=2"),
        ("not-configured", "sort=health&page=3"),
    ],
)
def test_the_header_and_pages_are_django_tables2s_own(tab, query):
    ours, theirs = _normal(_html(_table(tab, {ADMIN}, query, per_page=1))), _table(tab, {ADMIN}, query, per_page=1)
    theirs = _normal(get_template("django_tables2/table.html").render({"table": theirs}, theirs.request))
    for part in (r"<thead>.*</thead>", r"<ul class=\"pagination\">.*</ul>"):
        assert re.search(part, ours).group(0) == re.search(part, theirs).group(0)


def test_a_vm_azure_lets_the_person_act_on_has_a_checkbox_named_for_it():
    row = _row(_html(_table("configured", {REQUESTER})), "web-01")
    assert row["Select"] == (
        f'<input type="checkbox" class="pick" name="vm" value="{vm_id("web-01")}" aria-label="Select web-01">'
    )
    assert row["VM"] == f'<a href="/vms/{SUB}/rg-web/web-01/">web-01</a>'


def test_a_vm_it_cannot_pick_says_why_to_eyes_and_screen_readers():
    row = _row(_html(_table("configured", {REQUESTER})), "open")
    why = "Azure gives you read-only access to rg-ro"
    assert row["Select"] == f'<span class="unavailable" title="{why}">—<span class="sr-only">{why}</span></span>'
    too_long = _row(_html(_table("not-configured", {ADMIN})), LONG)
    assert escape(f"{LONG}: {TOO_LONG}") in too_long["Select"] and "<input" not in too_long["Select"]


@pytest.mark.parametrize(
    "roles, actions",
    [
        ({REQUESTER}, ["Request access"]),
        ({ADMIN, AUDITOR}, ["Edit", "Remove JIT", "Activity"]),
        ({AUDITOR}, ["Activity"]),
        (set(), []),
    ],
)
def test_row_actions_follow_the_roles_and_each_link_names_its_vm(roles, actions):
    cell = _row(_html(_table("configured", roles)), "web-01")["Actions"]
    assert re.findall(r">([^<]+)</a>", cell) == actions
    assert re.findall(r'aria-label="([^"]+)"', cell) == [f"{a} web-01" for a in actions]
    if "Request access" in actions:
        assert f'href="/access/new?vm={vm_id("web-01")}"' in cell


def test_an_action_azure_would_refuse_is_left_out():
    cell = _row(_html(_table("configured", {REQUESTER, ADMIN})), "open")["Actions"]
    assert re.findall(r">([^<]+)</a>", cell) == ["Activity"]


def test_cells_write_values_badges_moments_and_a_dash_for_nothing():
    row = _row(_html(_table("configured", {REQUESTER})), "web-01")
    assert row["Power state"] == '<span class="power running">Running</span>'
    assert row["Protected ports"] == "22 (Any, ≤3 h); 3389 (Any, ≤1 h)"
    assert row["Last access"] == (
        '<time datetime="2026-11-28T10:00:00+00:00" class="local">2026-11-28 10:00 UTC</time>'
    )
    assert row["JIT health"].startswith('<span class="health unknown" title="22: ')
    assert re.fullmatch(
        r'<span class="health (\w+)" title="([^"]+)">\w+</span><span class="sr-only">: (.+)</span>', row["JIT health"]
    )
    quiet = _row(_html(_table("not-configured", {ADMIN})), "quiet")
    assert quiet["JIT health"].startswith('<span class="health')
    never = _row(_html(_table("configured", {REQUESTER})), "open")
    assert never["Last access"] == never["Last user"] == "—" and never["Approved requests (7 days)"] == "0"
    unsupported = _rows(_html(_table("unsupported")))
    assert {r["Reason"] for r in unsupported} >= {"Classic VM"} and all(r["How to fix"] for r in unsupported)


def test_anyones_text_is_escaped():
    html = _html(_table("configured", {REQUESTER}))
    assert "<b>" not in html and "<script>" not in html
    row = _row(html, "web-01")
    assert row["Subscription"] == "Contoso &lt;b&gt;&quot;&amp;&#x27;x"
    assert row["Last user"] == "eve &lt;script&gt;"


def test_nothing_to_show_says_why_and_how_to_see_the_vms_again():
    html = _normal(_html(_table("configured", {REQUESTER}, "q=<i>zzz", inventory=replace(_inventory(), rows=()))))
    assert (
        '<tbody><tr><td colspan="14">No VMs match “&lt;i&gt;zzz”.'
        '<a href="/vms/?tab=configured">Clear the search.</a></td></tr></tbody>'
    ) in html
    none = replace(_inventory(), rows=())
    html = _normal(_html(_table("configured", {REQUESTER}, "power=deallocated", inventory=none, exclude=("select",))))
    assert '<td colspan="13">No VMs match these filters.<a href="/vms/?tab=configured">Clear the filters.</a>' in html
    assert '<td colspan="13">No VMs on this tab.</td>' in _normal(
        _html(_table("configured", inventory=none, exclude=("select",)))
    )


def test_without_the_select_column_no_row_has_a_checkbox():
    html = _html(_table("configured", {REQUESTER}, exclude=("select",)))
    assert "Select" not in _rows(html)[0] and 'class="pick"' not in html


def test_it_keeps_each_row_once_per_person_and_makes_it_again_for_other_roles():
    inventory = _inventory()
    for roles in ({REQUESTER}, {REQUESTER}, {ADMIN}):
        html = _html(_table("configured", roles, inventory=inventory))
    assert len(inventory._html) == 4  # two rows, as a requester and as an admin
    assert "Edit" in html and "Request access" not in html
