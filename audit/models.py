"""The portal's own audit trail: append-only, each event chained to the one before by a hash."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnly(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("Audit events are never changed.")

    def delete(self):
        raise AppendOnly("Audit events are never deleted.")


class AuditEvent(models.Model):
    created = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_name = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=40, db_index=True)
    target = models.CharField(max_length=400, blank=True, db_index=True)
    outcome = models.CharField(max_length=20)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]

    def canonical(self) -> str:
        return json.dumps({
            "created": self.created.isoformat(), "actor": self.actor_id, "actor_name": self.actor_name,
            "action": self.action, "target": self.target, "outcome": self.outcome, "source_ip": self.source_ip,
            "correlation_id": self.correlation_id, "details": self.details, "previous_hash": self.previous_hash,
        }, sort_keys=True, separators=(",", ":"), default=str)

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnly("Audit events are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Audit events are never deleted.")

