"""My access: the portal's own records, checked against what Azure says now (its statuses, its clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst

from core import justifications
from core.fates import ENDED_EARLY, EXPIRED, OPEN, azure_fate
from vms.inventory import Inventory, RequestLine, VmRow

from .models import AccessRequest, AccessRequestItem, Approval
from .states import WORKFLOW, ItemStatus, RequestStatus


@dataclass(frozen=True)
class OpenAccess:
    item: AccessRequestItem
    vm: VmRow | None
    azure_now: datetime
    port: int  # where to connect: the VM's port, or the firewall's port Azure mapped to it
    line: RequestLine | None = None  # Azure's own line for it, when its request history lists it

    @property
    def address(self) -> str:
        return self.vm.connect_address if self.vm else ""

    @property
    def private_only(self) -> bool:
        return bool(self.vm and self.address == self.vm.private_ip)

    @property
    def ssh_command(self) -> str:
        user = (self.vm.admin_username if self.vm else "") or "azureuser"
        return f"ssh {user}@{self.address} -p {self.port}"


def line_of(row: VmRow | None, item: AccessRequestItem) -> RequestLine | None:
    """Azure's line for one of our items in its VM's request history: the same port and end time (to the second)."""
    end = int(item.end.timestamp())
    return (
        next((x for x in row.history if x.port == item.port and int(x.end.timestamp()) == end), None) if row else None
    )


def _line(inventory: Inventory | None, item: AccessRequestItem) -> RequestLine | None:
    return line_of(inventory.row_of(item.vm_id), item) if inventory else None


def still_open(item: AccessRequestItem, line: RequestLine | None, now: datetime) -> bool:
    """Open by Azure's line for it, or, Azure silent about it (its list could not be read), by our own record."""
    open_by_azure = line.status == "Initiated" and line.end > now if line else item.status == ItemStatus.OPENED
    return open_by_azure and item.end > now


# What may be open: opened, or its answer lost (Azure may have opened it after the portal checked), as Azure's own
# request history decides.
OPENABLE = (ItemStatus.OPENED, ItemStatus.FAILED, ItemStatus.UNKNOWN)


def open_now(user, inventory: Inventory | None) -> list[OpenAccess]:
    now = inventory.azure_now if inventory else timezone.now()
    found = []
    # Besides what opened, a request whose answer was lost may have opened after the portal checked: Azure's
    # own request history decides for those.
    items = AccessRequestItem.objects.filter(
        request__user=user, end__gt=now, status__in=OPENABLE, ended_at__isnull=True
    )
    for item in items.select_related("request").order_by("end"):
        line = _line(inventory, item)
        if still_open(item, line, now):
            port = item.mapped_port or (line.mapped_port if line else None) or item.port
            found.append(OpenAccess(item, inventory.row_of(item.vm_id) if inventory else None, now, port, line))
    return found


@dataclass(frozen=True)
class OutsideAccess:
    """A window Azure has open that no request of the portal opened (the Azure portal, the CLI, PowerShell…)."""

    row: VmRow
    line: RequestLine
    azure_now: datetime

    @property
    def port(self) -> int:
        return self.line.mapped_port or self.line.port

    @property
    def address(self) -> str:
        return self.row.connect_address

    @property
    def ssh_command(self) -> str:
        return f"ssh {self.row.admin_username or 'azureuser'}@{self.address} -p {self.port}"


def _portal_windows(now: datetime) -> set[tuple[str, int, int]]:
    """(VM id, port, end second) of every window the portal asked for that may still be open, its early ends'
    one-minute windows included."""
    known = set()
    for vm_id, port, end, until in AccessRequestItem.objects.filter(
        Q(end__gt=now) | Q(ended_until__gt=now)
    ).values_list("vm_id", "port", "end", "ended_until"):
        known.add((vm_id.lower(), port, int(end.timestamp())))
        if until is not None:
            known.add((vm_id.lower(), port, int(until.timestamp())))
    return known


def outside_window(
    inventory: Inventory | None, requestor: str | None, vm_id: str, port: int, end: int
) -> OutsideAccess | None:
    """The window opened outside the portal on this VM and port ending at this second (what a page listed), among
    `requestor`'s (None: everybody's the inventory shows); None when it is not open any more."""
    return next(
        (
            o
            for o in opened_outside(inventory, requestor)
            if o.row.vm_id.lower() == vm_id.lower() and o.line.port == port and int(o.line.end.timestamp()) == end
        ),
        None,
    )


def opened_outside(inventory: Inventory | None, requestor: str | None = None) -> list[OutsideAccess]:
    """What Azure's request history (read with the inventory: no call of its own) has open now that the portal did
    not open: `requestor`'s (a user principal name), or, None, everybody's the inventory shows. A blank name (a
    sign-in whose token had no preferred_username) is nobody's, never everybody's."""
    if inventory is None:
        return []
    now = inventory.azure_now
    known = _portal_windows(now)
    # An early end's minute-long window (the portal's words, to an address that reaches nobody) is no access.
    found = [
        OutsideAccess(row, line, now)
        for row, line in inventory.open_lines()
        if line.end > now
        and (requestor is None or (requestor != "" and line.requestor.lower() == requestor.lower()))
        and (row.vm_id.lower(), line.port, int(line.end.timestamp())) not in known
        and justifications.read(line.justification).kind != "ended"
    ]
    return sorted(found, key=lambda a: (a.line.end, a.row.name, a.line.port))


def _not_opened(statuses: set[str]) -> str:
    """Why nothing opened, in the words of the worst case: a refusal is final, a failure is worth retrying."""
    worst = (
        ItemStatus.REFUSED
        if statuses == {ItemStatus.REFUSED}
        else ItemStatus.UNKNOWN
        if ItemStatus.UNKNOWN in statuses
        else ItemStatus.FAILED
    )
    return capfirst(worst.label)


def portal_fate(status: str) -> str:
    """What became of a request item, in the portal's words where Azure has nothing to say."""
    return ItemStatus(status).label if status in ItemStatus.values else status


def fate(item: AccessRequestItem, inventory: Inventory | None, now: datetime) -> str:
    """An item's fate: Azure's own status and reason when its history lists the item, else the portal's record
    (an opened port Azure no longer lists is open until its end)."""
    if item.ended_at is not None:
        return ENDED_EARLY
    line = _line(inventory, item)
    if line is not None:
        return azure_fate(line.status, line.reason, line.end, now)
    if item.status == ItemStatus.OPENED:
        return OPEN if item.end > now else EXPIRED
    return portal_fate(item.status)


def fates(access: AccessRequest, inventory: Inventory | None) -> list[tuple[AccessRequestItem, str]]:
    """Each item of one request with its fate (its own page)."""
    now = inventory.azure_now if inventory else timezone.now()
    return [(item, fate(item, inventory, now)) for item in access.items.all()]


def item_result(access: AccessRequest, item: AccessRequestItem, fate: str, state: str) -> str:
    """An item's result as the request's page words it (templates/requests_app/detail.html): the request's state
    while it waits for a decision or stopped before Azure (its items never reached Azure, so their own "waiting for
    Azure" would mislead), "ended early" for an opened port of a request ended early, else the fate."""
    if access.waits or access.stopped_before_azure:
        return state
    if access.ended_at and item.opened:
        return ENDED_EARLY
    return fate


@dataclass(frozen=True)
class PastRequest:
    request: AccessRequest
    state: str


def history(
    user, open_items: list[OpenAccess], limit: int = 50, inventory: Inventory | None = None
) -> list[PastRequest]:
    """My requests, newest first, each with what became of it: open now, expired, replaced by a newer
    request, refused…"""
    open_ids = {a.item.pk for a in open_items}
    now = inventory.azure_now if inventory else timezone.now()
    requests = AccessRequest.objects.filter(user=user).prefetch_related("items", "approvals")[:limit]
    return [PastRequest(a, _state(a, any(i.pk in open_ids for i in a.items.all()), inventory, now)) for a in requests]


def request_state(access: AccessRequest, inventory: Inventory | None) -> str:
    """One request's state, as My access words it (its own page)."""
    now = inventory.azure_now if inventory else timezone.now()
    is_open = any(fate(i, inventory, now) == OPEN for i in access.items.all() if i.status == ItemStatus.OPENED)
    return _state(access, is_open, inventory, now)


def _state(access: AccessRequest, is_open: bool, inventory: Inventory | None, now: datetime) -> str:
    items = list(access.items.all())
    if access.status in WORKFLOW:
        return workflow_state(access)
    if access.ended_at:
        return capfirst(ENDED_EARLY)
    if is_open:
        return "Open now" + _partly(items)
    if access.status == RequestStatus.NOT_OPENED:
        return _not_opened({i.status for i in items})
    if access.status == RequestStatus.WAITING_FOR_AZURE:
        return capfirst(RequestStatus.WAITING_FOR_AZURE.label)
    ended = {fate(i, inventory, now) for i in items if i.status == ItemStatus.OPENED} - {OPEN}
    return (", ".join(sorted(ended)) or EXPIRED).capitalize() + _partly(items)


def _partly(items: list[AccessRequestItem]) -> str:
    """What a partly opened request says of the ports that did not open: refused only when Azure refused them."""
    missed = {i.status for i in items} - {ItemStatus.OPENED}
    if not missed:
        return ""
    return " (partly refused)" if missed == {ItemStatus.REFUSED} else " (partly not opened)"


def workflow_state(access: AccessRequest) -> str:
    """A request's state while (or instead of) waiting for approvers, in the words every page uses."""
    if access.overdue:
        return capfirst(RequestStatus.LAPSED.label)
    if access.waits:
        given = sum(1 for a in access.approvals.all() if a.decision == Approval.Decision.APPROVE)
        return f"{capfirst(RequestStatus.PENDING_APPROVAL.label)} ({given} of {access.approvals_needed})"
    return capfirst(access.status_words)
