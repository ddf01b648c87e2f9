from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person as Entra ID knows them: keyed by tenant id + object id, never by e-mail.

    `username` holds "<tid>/<oid>" so Django's own uniqueness applies; the UPN is only shown.
    """

    tenant_id = models.CharField(max_length=36)
    object_id = models.CharField(max_length=36)
    upn = models.CharField("user principal name", max_length=254, blank=True)
    display_name = models.CharField(max_length=254, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant_id", "object_id"], name="unique_entra_identity")]

    def __str__(self) -> str:
        return self.display_name or self.upn or self.username
