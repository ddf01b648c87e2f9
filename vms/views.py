"""The VM tabs, one VM's page, and the Refresh button."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django_tables2 import RequestConfig

from accounts.roles import ADMIN, REQUESTER, require_role, roles_of
from core.navigation import safe_next

from . import settle
from .actions import TOO_LONG, group_of, name_too_long
from .forms import TABS, FleetFilterForm
from .health_views import health_context
from .inventory import (
    CONFIGURED,
    NOT_CONFIGURED,
    Inventory,
    Loading,
    Selection,
    VmRow,
    forget,
    get_inventory,
    inventory_within,
)
from .rights import CONFIGURE, REQUEST, refusals, vm_for, why_not
from .tables import ConfiguredTable, NotConfiguredTable, TabRows, UnsupportedTable

# Who acts on several VMs at once on each tab, and what Azure must allow them on a VM's group.
BULK = {CONFIGURED: (REQUESTER, REQUEST), NOT_CONFIGURED: (ADMIN, CONFIGURE)}
ACTIONS = {
    CONFIGURED: ((REQUESTER, "Request access", REQUEST), (ADMIN, "Edit, Remove JIT", CONFIGURE)),
    NOT_CONFIGURED: ((ADMIN, "Enable JIT", CONFIGURE),),
}
TABLES = {"configured": ConfiguredTable, "not-configured": NotConfiguredTable, "unsupported": UnsupportedTable}


@require_safe
@login_required
def index(request: HttpRequest) -> HttpResponse:
    require_role(request.user)
    inventory = inventory_within(request.session, request.user.pk, settings.INVENTORY_PROGRESS_SECONDS)
    if isinstance(inventory, Loading):
        return render(request, "vms/loading.html", {"loading": inventory})
    filters = FleetFilterForm(request.GET, inventory)
    chosen = filters.selected()
    for name, errors in filters.errors.items():
        messages.warning(request, f"Ignored the {filters.fields[name].label or name} filter: {errors[0]}")
    selection = filters.apply(inventory)
    tab = chosen.get("tab", CONFIGURED)
    counts = selection.counts
    roles, groups = frozenset(roles_of(request.user)), list(selection.groups[tab].values())
    selectable = _may_select(tab, roles, inventory, groups)
    refused = _refused(tab, roles, inventory, groups) + _too_long(tab, roles, selection)
    table = TABLES[tab](
        TabRows(selection, tab),
        request=request,
        roles=roles,
        inventory=inventory,
        exclude=() if selectable else ("select",),
    )
    RequestConfig(request, paginate={"per_page": filters.page_size()}).configure(table)
    return render(
        request,
        "vms/index.html",
        {
            "inventory": inventory,
            "filters": filters,
            "table": table,
            "tab": tab,
            "counts": counts,
            "selectable": selectable,
            "refused": refused,
            "tabs": [(key, label, counts[key]) for key, label in TABS],
            "tab_query": _query_without(request, "tab"),
        },
    )


def _may_select(tab: str, roles: frozenset[str], inventory: Inventory, groups: list[VmRow]) -> bool:
    """Checkboxes only where this person has a bulk action on this tab that Azure allows on some row
    (`groups`: one row per resource group, since Azure's rights are per group)."""
    role, needed = BULK.get(tab, ("", ()))
    return role in roles and any(not why_not(inventory, r, needed) for r in groups)


def _refused(tab: str, roles: frozenset[str], inventory: Inventory, groups: list[VmRow]) -> list[str]:
    """Each reason, once, why Azure would refuse this person an action the tab offers their roles."""
    return refusals(inventory, groups, [(what, needed) for role, what, needed in ACTIONS.get(tab, ()) if role in roles])


def _too_long(tab: str, roles: frozenset[str], selection: Selection, named: int = 5) -> list[str]:
    """The VMs JIT cannot protect because of their names, said where they would be picked (the first few by name)."""
    if tab != NOT_CONFIGURED or ADMIN not in roles:
        return []
    found = sorted((r for r in selection.tabs[tab] if name_too_long(r)), key=lambda r: r.name.lower())
    if not found:
        return []
    names = ", ".join(f"{r.name} (in {r.resource_group})" for r in found[:named])
    more = f" and {len(found) - named} more" if len(found) > named else ""
    return [f"Enable JIT on {names}{more}: {TOO_LONG}, so JIT cannot protect it."]


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in (*names, "page", "sort", *[k for k, v in request.GET.items() if not v]):
        query.pop(name, None)
    return query.urlencode()


@require_safe
@login_required
def detail(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> HttpResponse:
    require_role(request.user)
    inventory = get_inventory(request.session, request.user.pk, complete=True)
    row = vm_for(inventory, subscription_id, resource_group, name)
    writes = []
    if ADMIN in roles_of(request.user):  # changes to its policy that may land late: read back, and said
        key = group_of(row).key
        if settle.pending(key):
            settle.settle_group(key, request.session, request.user.upn)
            inventory = get_inventory(request.session, request.user.pk, complete=True)
            row = vm_for(inventory, subscription_id, resource_group, name)
        writes = settle.lately(key)
    return render(
        request,
        "vms/detail.html",
        {
            "vm": row,
            "inventory": inventory,
            "open_now": row.open_now(inventory.azure_now),
            "late_writes": writes,
            "recent": row.history[:20],
            "why_not": {"configure": why_not(inventory, row, CONFIGURE), "request": why_not(inventory, row, REQUEST)},
            **health_context(request, inventory, row),
        },
    )


@require_POST
@login_required
def refresh(request: HttpRequest) -> HttpResponse:
    require_role(request.user)
    forget(request.user.pk, refresh=True)
    return HttpResponseRedirect(safe_next(request, request.POST.get("next") or reverse("vms-index")))
