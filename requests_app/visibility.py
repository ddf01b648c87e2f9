"""The one place that decides whose requests a person may see: their own, always; an approver's, admin's or
auditor's, those whose every VM Azure lets them see (their scope)."""

from __future__ import annotations

from django.http import Http404

from accounts.roles import ADMIN, APPROVER, AUDITOR, roles_of
from vms.inventory import Inventory

from .models import AccessRequest, AccessRequestItem

# One sentence for every request a person may not see, whether it exists or not (Django's default names the model:
# "No AccessRequest matches the given query.", which the API and the jit command then showed as is).
NOT_YOURS = "No such request, or not one you may see."


def own_request(user, pk: int) -> AccessRequest:
    access = AccessRequest.objects.prefetch_related("items").filter(pk=pk, user=user).first()
    if access is None:
        raise Http404(NOT_YOURS)
    return access


def own_item(user, pk: int) -> AccessRequestItem:
    item = AccessRequestItem.objects.select_related("request").filter(pk=pk, request__user=user).first()
    if item is None:
        raise Http404(NOT_YOURS)
    return item


def in_scope(inventory: Inventory | None, access: AccessRequest) -> bool:
    """Whether every VM of the request is one Azure lets this person see."""
    if inventory is None:
        return False
    return all(inventory.row_of(i.vm_id) is not None for i in access.items.all())


def overseen_request(user, pk: int, inventory: Inventory | None) -> AccessRequest:
    """A request the person may look at: their own, or, for approvers, admins and auditors, one in their scope."""
    access = AccessRequest.objects.select_related("user").prefetch_related("items").filter(pk=pk).first()
    if access is None:
        raise Http404(NOT_YOURS)
    if access.user_id == user.pk:
        return access
    if roles_of(user) & {APPROVER, ADMIN, AUDITOR} and in_scope(inventory, access):
        return access
    raise Http404(NOT_YOURS)
