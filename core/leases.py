"""The one lease primitive (`core.models.Lease`): a committed claim on a name that lapses on its own.

- `hold(name, who)`: for the length of a block (a policy's read-modify-write, the archive's collection); waits a
  little for another holder, then raises Busy naming them.
- `claim`/`release`: the same, for a claim that outlives a call (a notification being sent).
- `book(name, at)`: a job's next run: True when nothing earlier is booked, and then it is booked until `at`, so
  that any number of workers queue one run (the scheduling, `core.schedule`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .models import Lease


class Busy(Exception):
    def __init__(self, holder_name: str) -> None:
        super().__init__(holder_name)
        self.holder_name = holder_name


def claim(name: str, token: str, who: str, seconds: float, now: datetime | None = None) -> str | None:
    """Take the lease on `name` for `seconds` from `now` when it is free or lapsed by then; else the name of who
    holds it."""
    with transaction.atomic():
        lease, _ = Lease.objects.select_for_update().get_or_create(name=name)
        now = now or timezone.now()
        if lease.expires is not None and lease.expires > now and lease.holder != token:
            return lease.holder_name or "someone"
        lease.holder, lease.holder_name, lease.claims = token, who, lease.claims + 1
        lease.expires = now + timedelta(seconds=seconds)
        lease.save(update_fields=["holder", "holder_name", "claims", "expires"])
    return None


def release(name: str, token: str, *, forget: bool = False) -> bool:
    """Free the lease on `name` if `token` still holds it; `forget` deletes it (a name used once)."""
    mine = Lease.objects.filter(name=name, holder=token)
    return bool(mine.delete()[0] if forget else mine.update(expires=None, holder=""))


@dataclass
class Held:
    """A lease held for a block. `keep` leaves it held past the block, until `until`, under `who` (a change whose
    outcome is not known yet keeps its policy, so that no later change can be undone by it landing late)."""

    name: str
    token: str
    kept_until: datetime | None = None
    kept_as: str = ""

    def keep(self, until: datetime, who: str) -> None:
        self.kept_until, self.kept_as = until, who


@contextmanager
def hold(name: str, who: str, seconds: float, wait: float, waiting: Callable[[], None] | None = None) -> Iterator[Held]:
    """Hold the lease on `name` for the block; wait up to `wait` seconds for another holder (calling `waiting`
    about once a second meanwhile, which may free it: a policy's unsettled change read back), then raise Busy."""
    token, deadline = uuid.uuid4().hex, time.monotonic() + wait
    next_call = time.monotonic()
    while (holder := claim(name, token, who, seconds)) is not None:
        if time.monotonic() >= deadline:
            raise Busy(holder)
        if waiting is not None and time.monotonic() >= next_call:
            waiting()
            next_call = time.monotonic() + 1
            continue
        time.sleep(0.2)
    held = Held(name, token)
    try:
        yield held
    finally:
        if held.kept_until is None:
            release(name, token)
        else:
            Lease.objects.filter(name=name, holder=token).update(expires=held.kept_until, holder_name=held.kept_as)


def book(name: str, at: datetime, slack: timedelta = timedelta(0)) -> bool:
    """Book `name` until `at` unless a booking no later than `at` + `slack` is still ahead; True when this booked
    it. (Two workers computing "a period from now" a moment apart book once with a slack of a period.)"""
    with transaction.atomic():
        lease, _ = Lease.objects.select_for_update().get_or_create(name=name)
        if lease.expires is not None and timezone.now() < lease.expires <= at + slack:
            return False
        lease.expires, lease.holder, lease.claims = at, "", lease.claims + 1
        lease.save(update_fields=["expires", "holder", "claims"])
    return True
