"""The one place that decides which VMs a request may act on: ids must be well-formed ARM VM ids and
the VM must be in the signed-in person's own inventory (what Azure lets them read)."""

from __future__ import annotations

from django.http import Http404

from core.gateway import parse_vm_id

from .azure_actions import CONFIGURE, JIT, READ, REQUEST
from .inventory import Inventory, VmRow

__all__ = ["CONFIGURE", "JIT", "READ", "REQUEST"]  # where the other modules find them

MAX_SELECTION = 500
TAIL = 48  # of an id that is not a VM's: its end is where a name would be, and the link chose its length


def selected_vms(inventory: Inventory, raw_ids: list[str]) -> tuple[list[VmRow], list[str]]:
    """The visible VMs among `raw_ids`, and a message for each id that is not one."""
    rows: dict[str, VmRow] = {}
    problems = [f"Only the first {MAX_SELECTION} selected VMs are taken."] if len(raw_ids) > MAX_SELECTION else []
    for raw in raw_ids[:MAX_SELECTION]:
        row = inventory.row_of(raw) if parse_vm_id(raw) else None
        if row is None:
            problems.append(f"{_named(raw)} is not a virtual machine you can see; it was left out.")
        else:
            rows[row.vm_id.lower()] = row
    return list(rows.values()), problems


def _named(raw: str) -> str:
    """An id in a note: a well-formed VM id by its name and resource group, anything else by its end."""
    parsed = parse_vm_id(raw)
    if parsed:
        return f"{parsed[2]} in {parsed[1]}"
    return f"'…{raw[-TAIL:]}'" if len(raw) > TAIL else f"'{raw}'"


def vm_for(inventory: Inventory, subscription_id: str, resource_group: str, name: str) -> VmRow:
    row = next(
        (
            r
            for r in inventory.rows
            if r.subscription_id.lower() == subscription_id.lower()
            and r.resource_group.lower() == resource_group.lower()
            and r.name.lower() == name.lower()
        ),
        None,
    )
    if row is None:
        raise Http404("No such VM, or Azure does not let you see it.")
    return row


def refusal(inventory: Inventory, row: VmRow, needed: tuple[str, ...]) -> str:
    """Why Azure would refuse `needed` on the VM's resource group, in words that end where the group's name goes
    ("Azure gives you read-only access to"); "" when it would not. Pages that name several groups at once use it."""
    rights = inventory.permissions(row)
    missing = [action for action in needed if not rights.allows(action)]
    if not missing:
        return ""
    if rights.allows(READ) and missing == [a for a in needed if not a.endswith("/read")]:
        return "Azure gives you read-only access to"
    return f"Azure does not give you {' or '.join(missing)} on"


def why_not(inventory: Inventory, row: VmRow, needed: tuple[str, ...]) -> str:
    """Why Azure would refuse `needed` on the VM's resource group, in words; "" when it would not."""
    words = refusal(inventory, row, needed)
    return f"{words} {row.resource_group}" if words else ""


def refusals(inventory: Inventory, rows: list[VmRow], offered: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Each reason once, why Azure would refuse what is `offered` ((what, needed) pairs) on the groups of `rows`,
    naming together the groups one reason covers: "Edit, Remove JIT: Azure gives you read-only access to rg-dev
    and rg-web." (one row per resource group is enough: Azure's rights are per group; no `what`, no prefix)."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        for what, needed in offered:
            if words := refusal(inventory, row, needed):
                named = groups.setdefault(f"{what}: {words}" if what else words, [])
                if row.resource_group not in named:
                    named.append(row.resource_group)
    return sorted(f"{reason} {_and(sorted(names, key=str.lower))}." for reason, names in groups.items())


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def permitted(
    inventory: Inventory, rows: list[VmRow], needed: tuple[str, ...]
) -> tuple[list[VmRow], list[tuple[VmRow, str]]]:
    """The rows Azure lets this person act on, and each other row with the reason."""
    reasons = {r.vm_id: why_not(inventory, r, needed) for r in rows}
    return [r for r in rows if not reasons[r.vm_id]], [(r, reasons[r.vm_id]) for r in rows if reasons[r.vm_id]]
