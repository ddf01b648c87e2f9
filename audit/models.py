"""The archive: the portal's own copy of Azure's JIT history."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

# --- The archive: the portal's own copy of Azure's JIT history ------------------------------------------------
# Filled from every auditor's and admin's reads and from the optional read-only app identity (audit.archive), so
# that history survives the removal of a policy or a VM and reaches past Azure's 90 days. Rows are keyed by
# Azure's own ids: collecting twice stores once.


class ArchivedEvent(models.Model):
    """One JIT operation from Azure's Activity Log (its EndRequest event), and which VMs it touched."""

    event_id = models.CharField(max_length=64, unique=True)  # Azure's eventDataId
    correlation_id = models.CharField(max_length=64, db_index=True)
    operation = models.CharField(max_length=120)
    operation_name = models.CharField(max_length=120)
    status = models.CharField(max_length=40)
    category = models.CharField(max_length=40)
    level = models.CharField(max_length=40)
    time = models.DateTimeField()
    subscription_id = models.CharField(max_length=36)
    caller = models.CharField(max_length=254)
    resource_type = models.CharField(max_length=120)
    resource_group = models.CharField(max_length=90)
    resource_id = models.CharField(max_length=400)
    client_ip = models.CharField(max_length=64, blank=True)
    # Lower case, for read scope and filters (Azure's names are case-insensitive).
    scope_subscription = models.CharField(max_length=36)
    scope_group = models.CharField(max_length=90)
    # How its VMs and details were found: "portal" (the trail event `trail_seq`), "Azure request history",
    # "archived configurations", or "" while unexplained (retried at the next collection).
    explained_by = models.CharField(max_length=30, blank=True)
    trail_seq = models.PositiveBigIntegerField(null=True, blank=True)
    # What the operation meant, in the portal's words beside Azure's operation name (audit.meaning: "access
    # granted", "extension", "ended early", "JIT enabled", "JIT removed"…), set when it is explained.
    meaning = models.CharField(max_length=40, blank=True, db_index=True)
    # Who asked for the access (Azure's caller is whoever opened it: the approver, or who ended it early).
    requested_by = models.CharField(max_length=254, blank=True)
    portal_request = models.PositiveIntegerField(null=True, blank=True)  # the portal's request it opened or ended

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [
            models.Index(fields=["-time", "-id"]),
            models.Index(fields=["scope_subscription", "scope_group", "-time"]),
        ]


class ArchivedRequest(models.Model):
    """One VM + port line of a policy's request history in Azure, with its latest status."""

    policy_id = models.CharField(max_length=400)  # lower case
    vm_id = models.CharField(max_length=400)  # lower case
    vm_name = models.CharField(max_length=64)
    port = models.PositiveIntegerField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    requestor = models.CharField(max_length=254)
    source = models.CharField(max_length=64)
    justification = models.TextField(blank=True)
    status = models.CharField(max_length=20)  # Azure's: Initiated, Revoked
    reason = models.CharField(max_length=40)  # Azure's: UserRequested, Expired, NewerRequestInitiated

    class Meta:
        constraints = [models.UniqueConstraint(fields=["policy_id", "vm_id", "port", "start"], name="one_request_line")]
        indexes = [models.Index(fields=["policy_id", "start"])]


class ArchivedConfiguration(models.Model):
    """A policy's VMs and ports as seen at one moment; a new row only when it differs from the one before."""

    policy_id = models.CharField(max_length=400)  # lower case
    seen = models.DateTimeField()  # Azure's clock when it was read
    vms = models.JSONField(default=dict)  # VM id (lower) → its ports in words
    requests_digest = models.CharField(max_length=64, blank=True)  # so that unchanged history is not rewritten

    class Meta:
        indexes = [models.Index(fields=["policy_id", "seen"])]


class ArchivedTouch(models.Model):
    """One VM an archived event touched, and what it did to it ("enabled on …", "22, 3389"…)."""

    event = models.ForeignKey(ArchivedEvent, on_delete=models.CASCADE, related_name="touches")
    vm_id = models.CharField(max_length=400)  # lower case
    vm_name = models.CharField(max_length=64)
    line = models.TextField(blank=True)
    request = models.ForeignKey(ArchivedRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["vm_id"]), models.Index(fields=["vm_name"])]


class ArchiveCursor(models.Model):
    """Up to when one collector (a person, or the app identity) has read a subscription's Activity Log.

    Per collector, not per subscription: a person who reads only part of a subscription must not move on
    the point from which someone who reads all of it collects."""

    collector = models.CharField(max_length=200)
    subscription_id = models.CharField(max_length=36)  # lower case
    until = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["collector", "subscription_id"], name="one_cursor")]


# --- What leaves the building: evidence manifests and the SIEM streams' cursors ----------------------------------


class ExportManifest(models.Model):
    """The evidence manifest of one download (what was asked, coverage, rows, SHA-256 of the bytes, checkpoint),
    sealed with the trail's key once the file has been written whole; fetched by the person who downloaded it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=200)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    document = models.JSONField(null=True, blank=True)  # None while the file is still being written (or was cut)


class StreamCursor(models.Model):
    """Up to which trail event (`seq`) one SIEM sink has acknowledged delivery: the worker sends what follows, and
    moves this on only after the sink said yes, so a restart or an outage resends rather than loses."""

    sink = models.CharField(max_length=40, unique=True)
    seq = models.PositiveBigIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)  # in a row, since the last delivery
    next_attempt = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
