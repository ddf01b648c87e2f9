"""My access: the portal's own records, checked against what Azure says now (its statuses, its clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from vms.inventory import Inventory, VmRow

from .models import AccessRequest, AccessRequestItem


@dataclass(frozen=True)
class OpenAccess:
    item: AccessRequestItem
    vm: VmRow | None
    azure_now: datetime
    port: int  # where to connect: the VM's port, or the firewall's port Azure mapped to it

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


def open_now(user, inventory: Inventory | None) -> list[OpenAccess]:
    now = inventory.azure_now if inventory else timezone.now()
    rows = {r.vm_id.lower(): r for r in inventory.rows} if inventory else {}
    azure = {(r.vm_id.lower(), line.port, int(line.end.timestamp())): line for r in rows.values() for line in r.history}
    found = []
    # Besides what opened, a request whose answer was lost may have opened after the portal checked: Azure's
    # own request history decides for those.
    items = AccessRequestItem.objects.filter(request__user=user, end__gt=now, status__in=[
        AccessRequestItem.OPENED, AccessRequestItem.FAILED, AccessRequestItem.UNKNOWN])
    for item in items.select_related("request").order_by("end"):
        line = azure.get((item.vm_id.lower(), item.port, int(item.end.timestamp())))
        # Azure silent about an opened port (its list could not be read): trust our own end time.
        still_open = line.status == "Initiated" if line else item.status == AccessRequestItem.OPENED
        if still_open and item.end > now:
            port = item.mapped_port or (line.mapped_port if line else None) or item.port
            found.append(OpenAccess(item, rows.get(item.vm_id.lower()), now, port))
    return found


def _not_opened(statuses: set[str]) -> str:
    """Why nothing opened, in the words of the worst case: a refusal is final, a failure is worth retrying."""
    if statuses == {AccessRequestItem.REFUSED}:
        return "Refused"
    return "Not confirmed" if AccessRequestItem.UNKNOWN in statuses else "Not opened (try again)"


@dataclass(frozen=True)
class PastRequest:
    request: AccessRequest
    state: str


def history(user, open_items: list[OpenAccess], limit: int = 50) -> list[PastRequest]:
    """My requests, newest first, each with what became of it: open now, expired, refused…"""
    open_ids = {a.item.pk for a in open_items}
    found = []
    for access in AccessRequest.objects.filter(user=user).prefetch_related("items")[:limit]:
        items = list(access.items.all())
        if any(i.pk in open_ids for i in items):
            state = "Open now"
        elif access.status == AccessRequest.FAILED:
            state = _not_opened({i.status for i in items})
        elif access.status == AccessRequest.PENDING:
            state = "Waiting for Azure"
        else:
            state = "Expired" + (" (partly refused)" if access.status == AccessRequest.PARTIAL else "")
        found.append(PastRequest(access, state))
    return found
