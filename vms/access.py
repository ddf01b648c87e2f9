"""The one place that decides which VMs a request may act on: ids must be well-formed ARM VM ids and
the VM must be in the signed-in person's own inventory (what Azure lets them read)."""

from __future__ import annotations

from django.http import Http404

from jitportal.gateway import parse_vm_id

from .inventory import Inventory, VmRow

MAX_SELECTION = 500


def selected_vms(inventory: Inventory, raw_ids: list[str]) -> tuple[list[VmRow], list[str]]:
    """The visible VMs among `raw_ids`, and a message for each id that is not one."""
    by_id = {r.vm_id.lower(): r for r in inventory.rows}
    rows: dict[str, VmRow] = {}
    problems = [f"Only the first {MAX_SELECTION} selected VMs are taken."] if len(raw_ids) > MAX_SELECTION else []
    for raw in raw_ids[:MAX_SELECTION]:
        row = by_id.get(raw.lower()) if parse_vm_id(raw) else None
        if row is None:
            problems.append(f"'{raw[:120]}' is not a virtual machine you can see; it was left out.")
        else:
            rows[row.vm_id.lower()] = row
    return list(rows.values()), problems


def vm_for(inventory: Inventory, subscription_id: str, resource_group: str, name: str) -> VmRow:
    row = next((r for r in inventory.rows if r.subscription_id.lower() == subscription_id.lower()
                and r.resource_group.lower() == resource_group.lower() and r.name.lower() == name.lower()), None)
    if row is None:
        raise Http404("No such VM, or Azure does not let you see it.")
    return row
