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
