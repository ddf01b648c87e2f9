"""The one place that decides whose requests a person may see: their own, always; an approver's, admin's or
auditor's, those whose every VM Azure lets them see (their scope)."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.roles import ADMIN, APPROVER, AUDITOR, roles_of
from vms.inventory import Inventory

from .models import AccessRequest, AccessRequestItem


def own_request(user, pk: int) -> AccessRequest:
    return get_object_or_404(AccessRequest.objects.prefetch_related("items"), pk=pk, user=user)


def own_item(user, pk: int) -> AccessRequestItem:
    return get_object_or_404(AccessRequestItem.objects.select_related("request"), pk=pk, request__user=user)


def in_scope(inventory: Inventory | None, access: AccessRequest) -> bool:
    """Whether every VM of the request is one Azure lets this person see."""
    if inventory is None:
        return False
    return all(inventory.row_of(i.vm_id) is not None for i in access.items.all())


def overseen_request(user, pk: int, inventory: Inventory | None) -> AccessRequest:
    """A request the person may look at: their own, or, for approvers, admins and auditors, one in their scope."""
    access = get_object_or_404(AccessRequest.objects.select_related("user").prefetch_related("items"), pk=pk)
    if access.user_id == user.pk:
        return access
    if roles_of(user) & {APPROVER, ADMIN, AUDITOR} and in_scope(inventory, access):
        return access
    raise Http404("No such request, or not one you may see.")
