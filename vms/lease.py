"""The per-policy lease: a short, committed claim that expires if its holder dies."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

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


@dataclass
class Lease:
    """A held lease. `keep` leaves it held past the block, until `until`, under `name` (a change whose outcome is
    not known yet holds its policy so that no later change can be undone by it landing late)."""

    key: str
    token: str
    kept_until: datetime | None = None
    kept_as: str = ""

    def keep(self, until: datetime, name: str) -> None:
        self.kept_until, self.kept_as = until, name


def release(key: str, token: str) -> bool:
    """Free the lease on `key` if `token` still holds it."""
    return bool(PolicyLock.objects.filter(policy_id=key, holder=token).update(expires=None, holder=""))


@contextmanager
def policy_lease(key: str, who: str, waiting: Callable[[], None] | None = None) -> Iterator[Lease]:
    """Hold the lease on `key` for the block; wait a little for another holder (calling `waiting` about once a
    second meanwhile, which may free it), then raise Busy."""
    token, deadline = uuid.uuid4().hex, time.monotonic() + settings.POLICY_LEASE_WAIT_SECONDS
    next_call = time.monotonic()
    while (holder := _claim(key, token, who)) is not None:
        if time.monotonic() >= deadline:
            raise Busy(holder)
        if waiting is not None and time.monotonic() >= next_call:
            waiting()
            next_call = time.monotonic() + 1
            continue
        time.sleep(0.2)
    lease = Lease(key, token)
    try:
        yield lease
    finally:
        if lease.kept_until is None:
            release(key, token)
        else:
            PolicyLock.objects.filter(policy_id=key, holder=token).update(expires=lease.kept_until,
                                                                          holder_name=lease.kept_as)
