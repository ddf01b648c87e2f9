"""The per-policy lease: a short, committed claim that expires if its holder dies."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import PolicyLock


class Busy(Exception):
    def __init__(self, holder_name: str) -> None:
        super().__init__(holder_name)
        self.holder_name = holder_name


def _claim(key: str, token: str, who: str) -> str | None:
    """Take the lease when it is free or expired; else the name of who holds it."""
    with transaction.atomic():
        lock, _ = PolicyLock.objects.select_for_update().get_or_create(policy_id=key)
        now = timezone.now()
        if lock.expires is not None and lock.expires > now:
            return lock.holder_name or "someone"
        lock.holder, lock.holder_name, lock.writes = token, who, lock.writes + 1
        lock.expires = now + timedelta(seconds=settings.POLICY_LEASE_SECONDS)
        lock.save(update_fields=["holder", "holder_name", "writes", "expires"])
    return None


@contextmanager
def policy_lease(key: str, who: str) -> Iterator[None]:
    """Hold the lease on `key` for the block; wait a little for another holder, then raise Busy."""
    token, deadline = uuid.uuid4().hex, time.monotonic() + settings.POLICY_LEASE_WAIT_SECONDS
    while (holder := _claim(key, token, who)) is not None:
        if time.monotonic() >= deadline:
            raise Busy(holder)
        time.sleep(0.2)
    try:
        yield
    finally:
        PolicyLock.objects.filter(policy_id=key, holder=token).update(expires=None, holder="")
