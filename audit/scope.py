"""What a viewer may see of the audit record: the subscription + resource group pairs Azure lets them read.

The read scope comes from the person's own inventory (already read, cached, O(subscriptions) calls): the
resource groups in which Azure lists them at least one VM. A resource group where they can read no VM
today (or that no longer holds one) is outside it: conservative, so that nothing leaks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q, QuerySet

from trail.models import AuditEvent, AuditScope
from vms.inventory import Inventory


@dataclass(frozen=True)
class ReadScope:
    groups: frozenset[tuple[str, str]]  # (subscription id, resource group), lower case

    def covers(self, subscription_id: str, resource_group: str) -> bool:
        return (subscription_id.lower(), resource_group.lower()) in self.groups

    def allowed(self, subscription_field: str = "subscription_id", group_field: str = "resource_group") -> Q:
        """The rows within the scope, as a query on fields holding lower-case ids."""
        by_subscription: dict[str, list[str]] = {}
        for sub, rg in self.groups:
            by_subscription.setdefault(sub, []).append(rg)
        parts = [Q(**{subscription_field: sub, f"{group_field}__in": rgs}) for sub, rgs in by_subscription.items()]
        return reduce(or_, parts) if parts else Q(pk__in=[])

    def visible(self, events: QuerySet[AuditEvent]) -> tuple[QuerySet[AuditEvent], int]:
        """The events within the scope (those about no Azure scope, like sign-ins, included), and how many
        of `events` it hides."""
        outside = AuditScope.objects.exclude(self.allowed()).values("event_id")
        return events.exclude(pk__in=outside), events.filter(pk__in=outside).count()


def scope_of(inventory: Inventory) -> ReadScope:
    return ReadScope(frozenset((r.subscription_id.lower(), r.resource_group.lower()) for r in inventory.rows))
