from __future__ import annotations

from django.db import models


class PolicyLock(models.Model):
    """One row per JIT policy the portal writes, locked while the portal reads, changes and puts the
    policy, so that two portal users never interleave on one policy (Azure's API has no ETag)."""

    policy_id = models.CharField(max_length=400, unique=True)
    writes = models.PositiveIntegerField(default=0)
