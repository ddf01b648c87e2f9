from __future__ import annotations

from django.conf import settings
from django.db import models


class PolicyLock(models.Model):
    """A lease on one resource group + region's JIT policies while the portal reads, changes and puts
    them, so that two portal users never interleave on one policy (Azure's API has no ETag).

    The lease is a committed row, never a database lock held across Azure calls: other people's work
    never waits on someone's Azure call, and a lease whose holder died simply expires."""

    policy_id = models.CharField(max_length=400, unique=True)
    writes = models.PositiveIntegerField(default=0)
    holder = models.CharField(max_length=32, blank=True)
    holder_name = models.CharField(max_length=254, blank=True)
    expires = models.DateTimeField(null=True, blank=True)


class SeenScope(models.Model):
    """The resource groups a person's last complete inventory showed them (what Azure lets them read), kept so
    that work done without them — telling approvers of a request — reaches only those who may see it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="seen_scope")
    groups = models.JSONField(default=list)  # ["<subscription id>/<resource group>", …], lower case
    digest = models.CharField(max_length=64)
    updated = models.DateTimeField(auto_now=True)
