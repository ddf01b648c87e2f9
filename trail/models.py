"""The portal's own audit trail: append-only, numbered, each event chained to the one before by a keyed MAC.

The MAC's key is not in the database (see `trail/chain.py`): whoever can write the database but does not hold
the key cannot rewrite an event and recompute the later links."""

from __future__ import annotations

import hashlib
import hmac
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
    seq = models.PositiveBigIntegerField(unique=True)  # 1, 2, 3…: a gap or a shorter trail shows a removal
    created = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=40, db_index=True)
    target = models.TextField(blank=True)  # every policy id a request spans: no length a request could outgrow
    outcome = models.CharField(max_length=40)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)  # the archive looks events up by it
    details = models.JSONField(default=dict, blank=True)
    key_id = models.CharField(max_length=16)  # which AUDIT_KEY sealed it, so that keys can rotate
    previous_mac = models.CharField(max_length=64)
    mac = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        db_table = "audit_auditevent"  # its table since before the trail had an app of its own
        ordering = ["-seq"]

    def canonical(self) -> str:
        return json.dumps(
            {
                "seq": self.seq,
                "created": self.created.isoformat(),
                "actor": self.actor_id,
                "actor_name": self.actor_name,
                "action": self.action,
                "target": self.target,
                "outcome": self.outcome,
                "source_ip": self.source_ip,
                "correlation_id": self.correlation_id,
                "details": self.details,
                "key_id": self.key_id,
                "previous_mac": self.previous_mac,
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )

    def compute_mac(self, key: bytes) -> str:
        return hmac.new(key, self.canonical().encode(), hashlib.sha256).hexdigest()

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnly("Audit events are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Audit events are never deleted.")


class AuditScope(models.Model):
    """A subscription + resource group an event is about (read from its MAC-covered target), so that a
    viewer is shown only events within their Azure read scope. It decides visibility, never integrity."""

    event = models.ForeignKey(AuditEvent, on_delete=models.CASCADE, related_name="scopes")
    subscription_id = models.CharField(max_length=36)
    resource_group = models.CharField(max_length=90)

    class Meta:
        db_table = "audit_auditscope"
        indexes = [models.Index(fields=["subscription_id", "resource_group"])]
