"""Access requests as people submitted them: saved before Azure is called, updated after."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AccessRequest(models.Model):
    PENDING, OPENED, PARTIAL, FAILED = "pending", "opened", "partial", "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_requests")
    created = models.DateTimeField(default=timezone.now, db_index=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    justification = models.TextField(blank=True)
    source_prefix = models.CharField(max_length=64)
    duration_minutes = models.PositiveIntegerField()
    status = models.CharField(max_length=10, default=PENDING)

    class Meta:
        ordering = ["-created", "-id"]


class AccessRequestItem(models.Model):
    # refused: Azure said no; failed: not applied, worth trying again; unknown: no answer and no way to check.
    PENDING, OPENED, REFUSED, FAILED, UNKNOWN = "pending", "opened", "refused", "failed", "unknown"

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="items")
    vm_id = models.CharField(max_length=400)
    vm_name = models.CharField(max_length=64)
    policy_id = models.CharField(max_length=400)
    port = models.PositiveIntegerField()
    end = models.DateTimeField()
    status = models.CharField(max_length=10, default=PENDING)
    message = models.TextField(blank=True)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)  # the audit join looks it up
    # The port's own source when the person gave it one; blank: the request's `source_prefix`.
    source = models.CharField(max_length=64, blank=True)
    # Behind an Azure Firewall, Azure maps the port to one of the firewall's: the port to connect to.
    mapped_port = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["vm_name", "port"]

    @property
    def source_prefix(self) -> str:
        return self.source or self.request.source_prefix

    @property
    def connect_port(self) -> int:
        return self.mapped_port or self.port

    LABELS = {PENDING: "Waiting for Azure", OPENED: "Opened", REFUSED: "Refused by Azure",
              FAILED: "Not opened (try again)", UNKNOWN: "Not confirmed"}

    @property
    def label(self) -> str:
        return self.LABELS.get(self.status, self.status)
