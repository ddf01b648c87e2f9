"""The VM tabs' tables write their rows themselves (vms/tables.py): the HTML must be what django-tables2's own
template writes for the same table — cells, links, checkboxes, reasons, sort links and escaping."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from django.template.loader import get_template
from django.test import RequestFactory
from django_tables2 import RequestConfig

from accounts.roles import ADMIN, AUDITOR, REQUESTER
from core.gateway import Permissions, Subscription
from tests.unit.builders import NOW, SUB, fleet, nic, policy, port, request, vm
from vms.inventory import Inventory, Selection, rows_of
from vms.tables import ConfiguredTable, NotConfiguredTable, UnsupportedTable
from vms.views import Ordered

NSG = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Network/networkSecurityGroups/nsg"
HOSTILE = 'Contoso <b>"&\'x'  # a subscription's and a requestor's name are anyone's text


def _inventory() -> Inventory:
    sub = fleet((vm("web-01", nic="n1"), vm("quiet", nic="n1"), vm("open", nic="n2", rg="rg-ro"),
                 vm("bare", nic="n3", rg="rg-bare"), vm("classic", classic=True)),
                nics=(nic("n1", nsg=NSG), nic("n2", rg="rg-ro", nsg=NSG), nic("n3", rg="rg-bare", subnet="x")),
                policies=(policy({"web-01": (port(22), port(3389, hours=1))},
                                 requests=(request("eve <script>", NOW - timedelta(hours=2), {"web-01": (22,)}),)),
                          policy({"open": (port(22),)}, rg="rg-ro")))
    sub = replace(sub, subscription=Subscription(SUB, HOSTILE, "Enabled"))
    rights = {(SUB.lower(), "rg-web"): Permissions(((("*",), ()),)),
              (SUB.lower(), "rg-ro"): Permissions(((("*/read",), ()),))}
    return Inventory(rows=tuple(rows_of(sub, NOW)), failures=(), subscription_count=1, azure_now=NOW,
                     fetched_at=0.0, epochs={}, rights=rights)


def _normal(html: str) -> str:
    html = re.sub(r"\s+", " ", html)
    return re.sub(r"<(\w+) >", r"<\1>", re.sub(r"\s*([<>])\s*", r"\1", html))


def _tables2(table) -> str:
    """What django-tables2's own template writes for `table`."""
    return get_template("django_tables2/table.html").render({"table": table}, table.request)


@pytest.mark.parametrize("table_class, tab", [(ConfiguredTable, "configured"), (NotConfiguredTable, "not-configured"),
                                              (UnsupportedTable, "unsupported")])
@pytest.mark.parametrize("roles", [frozenset({REQUESTER}), frozenset({ADMIN, AUDITOR}), frozenset()])
@pytest.mark.parametrize("query", ["", "sort=-name&q=x", "sort=last_access&per_page=10"])
def test_it_writes_the_rows_as_django_tables2_would(table_class, tab, roles, query):
    inventory = _inventory()
    selection = Selection(inventory.rows)
    http = RequestFactory().get(f"/vms/?tab={tab}&{query}")

    def table():
        made = table_class(Ordered(selection, tab), request=http, roles=roles, inventory=inventory)
        RequestConfig(http, paginate={"per_page": 2}).configure(made)
        return made

    lean, theirs = table(), table()
    ours = get_template(lean.template_name).render({"table": lean}, http)
    assert _normal(ours) == _normal(_tables2(theirs))
    assert "<b>" not in ours and "<script>" not in ours
    assert table_class is not ConfiguredTable or "read-only access to rg-ro" in ours


def test_it_keeps_each_row_once_per_person_and_makes_it_again_for_other_roles():
    inventory = _inventory()
    selection = Selection(inventory.rows)
    http = RequestFactory().get("/vms/?tab=configured")
    for roles in (frozenset({REQUESTER}), frozenset({REQUESTER}), frozenset({ADMIN})):
        made = ConfiguredTable(Ordered(selection, "configured"), request=http, roles=roles, inventory=inventory)
        RequestConfig(http, paginate={"per_page": 25}).configure(made)
        html = made.body()
    assert len(inventory._html) == 4  # two rows, as a requester and as an admin
    assert "Edit" in html and "Request access" not in html
