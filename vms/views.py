"""The VM tabs, one VM's page, and the Refresh button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django_tables2 import RequestConfig

from accounts.roles import require_role, roles_of
from jitportal.navigation import safe_next

from .access import vm_for
from .forms import TABS, FleetFilterForm
from .inventory import CONFIGURED, forget, get_inventory
from .tables import ConfiguredTable, NotConfiguredTable, UnsupportedTable

TABLES = {"configured": ConfiguredTable, "not-configured": NotConfiguredTable, "unsupported": UnsupportedTable}


@require_safe
@login_required
def index(request: HttpRequest) -> HttpResponse:
    require_role(request.user)
    inventory = get_inventory(request.session, request.user.pk)
    filters = FleetFilterForm(request.GET, inventory.rows)
    chosen = filters.selected()
    for name, errors in filters.errors.items():
        messages.warning(request, f"Ignored the {filters.fields[name].label or name} filter: {errors[0]}")
    rows = filters.apply(inventory.rows)
    tab = chosen.get("tab", CONFIGURED)
    counts = {key: sum(1 for r in rows if r.tab == key) for key, _ in TABS}
    table = TABLES[tab]([r for r in rows if r.tab == tab], request=request, roles=frozenset(roles_of(request.user)))
    RequestConfig(request, paginate={"per_page": filters.page_size()}).configure(table)
    return render(request, "vms/index.html", {
        "inventory": inventory, "filters": filters, "table": table, "tab": tab, "counts": counts,
        "tabs": [(key, label, counts[key]) for key, label in TABS], "tab_query": _query_without(request, "tab"),
    })


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in (*names, "page", "sort", *[k for k, v in request.GET.items() if not v]):
        query.pop(name, None)
    return query.urlencode()


@require_safe
@login_required
def detail(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    require_role(request.user)
    inventory = get_inventory(request.session, request.user.pk)
    row = vm_for(inventory, subscription_id, resource_group, name)
    return render(request, "vms/detail.html", {
        "vm": row, "inventory": inventory, "open_now": row.open_now(inventory.azure_now),
        "recent": row.history[:20]})


@require_POST
@login_required
def refresh(request: HttpRequest) -> HttpResponse:
    require_role(request.user)
    forget(request.user.pk)
    return HttpResponseRedirect(safe_next(request, request.POST.get("next") or reverse("vms-index")))
