"""The VMs I can see (a tab, filters, paging) and one VM: what the VM tabs and a VM's page show."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from vms.forms import FleetFilterForm
from vms.inventory import CONFIGURED, get_inventory
from vms.rights import CONFIGURE, REQUEST, vm_for, why_not

from . import schemas
from .auth import actor, person
from .paging import page_of
from .problems import invalid

router = Router(tags=["VMs"])


class VmFilters(Schema):
    tab: Literal["configured", "not-configured", "unsupported"] = CONFIGURED
    q: str = ""
    subscription: str = ""
    resource_group: str = ""
    region: str = ""
    os: str = ""
    power: str = ""
    page: int = 1
    per_page: int = Field(25, description="10, 25, 50 or 100")


@router.get("/vms", response=schemas.answers(schemas.VmPage), summary="The VMs I can see", auth=person())
def vm_list(request: HttpRequest, filters: Query[VmFilters]):
    who = actor(request)
    inventory = get_inventory(who.session, who.user_pk)
    form = FleetFilterForm(
        {k: str(v) for k, v in filters.dict().items() if v not in ("", None) and k != "page"}, inventory
    )  # per_page too: the form's choices are the page's
    if not form.is_valid():  # the page ignores a bad filter with a message; a script is told
        raise invalid({name: list(errors) for name, errors in form.errors.items()})
    selection = form.apply(inventory)
    rows, paging = page_of(selection.tabs[filters.tab], filters.page, form.page_size())
    return {
        **paging,
        "items": [schemas.vm(r) for r in rows],
        "counts": selection.counts,
        "age_seconds": inventory.age_seconds(),
        "unavailable": [f.message for f in inventory.failures],
    }


@router.get(
    "/vms/{subscription_id}/{resource_group}/{name}",
    response=schemas.answers(schemas.VmDetail),
    summary="One VM",
    auth=person(),
)
def vm_detail(request: HttpRequest, subscription_id: str, resource_group: str, name: str):
    who = actor(request)
    inventory = get_inventory(who.session, who.user_pk, complete=True)
    row = vm_for(inventory, subscription_id, resource_group, name)
    return {
        **schemas.vm(row),
        "open_now": [schemas.line(x) for x in row.open_now(inventory.azure_now)],
        "recent": [schemas.line(x) for x in row.history[:20]],
        "why_not_request": why_not(inventory, row, REQUEST),
        "why_not_configure": why_not(inventory, row, CONFIGURE),
    }
