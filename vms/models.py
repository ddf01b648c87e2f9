from __future__ import annotations

from django.conf import settings
from django.db import models


class SeenScope(models.Model):
    """The resource groups a person's last complete inventory showed them (what Azure lets them read), kept so
    that work done without them — telling approvers of a request — reaches only those who may see it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="seen_scope")
    groups = models.JSONField(default=list)  # ["<subscription id>/<resource group>", …], lower case
    digest = models.CharField(max_length=64)
    updated = models.DateTimeField(auto_now=True)


class UnsettledWrite(models.Model):
    """A change to a group's JIT policy whose answer was lost and that the read back did not show applied: Azure
    may still apply it. The group's lease stays held (`lease_token`) until a read settles what Azure holds, or
    until `settle_by`; then the outcome is kept here and on the trail."""

    APPLIED_LATE, NOT_APPLIED, UNKNOWN = "applied late", "not applied", "unknown"

    group_key = models.CharField(max_length=400, db_index=True)  # the lease's key: subscription, group, region
    policy_id = models.CharField(max_length=400)
    action = models.CharField(max_length=20)  # jit.enable, jit.edit, jit.remove
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    user_name = models.CharField(max_length=254, blank=True)
    # Whose session reads it back from the worker (their own delegated token; read only); blank: none kept.
    session_key = models.CharField(max_length=64, blank=True)
    correlation_id = models.CharField(max_length=64)
    change = models.JSONField(default=dict)  # {"before": {vm: ports words}, "after": {vm: ports words}}
    lease_token = models.CharField(max_length=32)
    started = models.DateTimeField()
    settle_by = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started", "-id"]
