"""The one place that decides whose requests a person may see: their own, always."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from .models import AccessRequest, AccessRequestItem


def own_request(user, pk: int) -> AccessRequest:
    return get_object_or_404(AccessRequest.objects.prefetch_related("items"), pk=pk, user=user)


def own_item(user, pk: int) -> AccessRequestItem:
    return get_object_or_404(AccessRequestItem.objects.select_related("request"), pk=pk, request__user=user)
