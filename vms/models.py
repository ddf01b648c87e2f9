from __future__ import annotations

from django.conf import settings
from django.db import models

from .verdicts import LABELS


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


class Exposure(models.Model):
    """A health finding (Bypassed, Deny rule missing, Exposed, Left-over allow) on one VM's port, from when it was
    first seen until it was seen gone, by Azure's clock: the auditors' report shows these as exposure windows.
    The admins whose scope holds the VM are told once when it opens and once when it ends."""

    key = models.CharField(max_length=1200)  # VM id, port, state and rule id, lower case: what makes it the same
    vm_id = models.CharField(max_length=400)
    vm_name = models.CharField(max_length=64)
    subscription_id = models.CharField(max_length=36)  # lower case
    resource_group = models.CharField(max_length=90)  # lower case
    port = models.PositiveIntegerField()
    state = models.CharField(max_length=20)
    severity = models.CharField(max_length=10, blank=True)
    detail = models.TextField()
    rule_id = models.CharField(max_length=600, blank=True)
    started = models.DateTimeField()
    last_seen = models.DateTimeField()
    ended = models.DateTimeField(null=True, blank=True)
    # How much of it the audit archive holds (audit.archive.take_exposures): nothing, its start, or start and end.
    archived = models.PositiveSmallIntegerField(default=0)

    @property
    def label(self) -> str:
        return LABELS.get(self.state, self.state)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(ended__isnull=True), name="one_open_exposure_per_finding"
            )
        ]
        indexes = [
            models.Index(fields=["subscription_id", "resource_group", "started"]),
            models.Index(fields=["archived"], name="exposure_to_archive", condition=models.Q(archived__lt=2)),
        ]
