"""Who has been seen to read what: each person's resource groups from their last complete inventory
(`inventory._remember_scope` keeps them)."""

from __future__ import annotations

from collections.abc import Iterable

from .models import SeenScope


def scope_key(subscription_id: str, resource_group: str) -> str:
    """How a resource group is kept in a seen scope: written by the inventory, compared by `who_sees`."""
    return f"{subscription_id}/{resource_group}".lower()


def who_sees(user_pks: Iterable[int], groups: Iterable[tuple[str, str]]) -> tuple[set[int], set[int]]:
    """Of `user_pks`, those whose last seen scope holds every (subscription, resource group), and those whose
    scope the portal has not seen yet."""
    user_pks = set(user_pks)
    wanted = {scope_key(sub, rg) for sub, rg in groups}
    known = dict(SeenScope.objects.filter(user_id__in=user_pks).values_list("user_id", "groups"))
    return {pk for pk, held in known.items() if wanted <= set(held)}, user_pks - set(known)
