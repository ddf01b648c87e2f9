"""The one place that decides which VMs a request may act on: ids must be well-formed ARM VM ids and
the VM must be in the signed-in person's own inventory (what Azure lets them read)."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from jitportal.gateway import parse_vm_id

from .inventory import VmRow, get_inventory

MAX_SELECTION = 500


def selected_vms(request: HttpRequest, raw_ids: list[str]) -> tuple[list[VmRow], list[str]]:
    """The visible VMs among `raw_ids`, and a message for each id that is not one."""
    by_id = {r.vm_id.lower(): r for r in get_inventory(request.session, request.user.pk).rows}
    rows: dict[str, VmRow] = {}
    problems = [f"Only the first {MAX_SELECTION} selected VMs are taken."] if len(raw_ids) > MAX_SELECTION else []
    for raw in raw_ids[:MAX_SELECTION]:
        row = by_id.get(raw.lower()) if parse_vm_id(raw) else None
        if row is None:
            problems.append(f"'{raw[:120]}' is not a virtual machine you can see; it was left out.")
        else:
            rows[row.vm_id.lower()] = row
    return list(rows.values()), problems


def vm_for(request: HttpRequest, subscription_id: str, resource_group: str, name: str) -> VmRow:
    rows, _ = selected_vms(request, [f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
                                     f"Microsoft.Compute/virtualMachines/{name}"])
    if not rows:
        raise Http404("No such VM, or Azure does not let you see it.")
    return rows[0]
