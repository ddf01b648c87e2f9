"""How a page's fleet load shares its pool: a subscription Azure answers slowly neither delays the page nor
keeps the pool from the others; a later look finds it in. Azure is played by our own boundary's functions."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from core.gateway import UNKNOWN, Subscription, fleet

CALL_SECONDS = 0.03


def _subscriptions(count: int) -> tuple[Subscription, ...]:
    return tuple(Subscription(f"00000000-0000-4000-8000-{n:012d}", f"Sub {n:03d}", "Enabled") for n in range(count))


@pytest.fixture
def azure(monkeypatch):
    """Every list and rights call takes CALL_SECONDS, or `slow[subscription id]` seconds; counts calls at once."""
    slow: dict[str, float] = {}
    at_once, lock = {"now": 0, "most": 0}, threading.Lock()

    def answer(subscription_id: str, value):
        with lock:
            at_once["now"] += 1
            at_once["most"] = max(at_once["most"], at_once["now"])
        time.sleep(slow.get(subscription_id, CALL_SECONDS))
        with lock:
            at_once["now"] -= 1
        return value

    monkeypatch.setattr(
        fleet,
        "_fetch",
        lambda credential, sub, path, version, extra, between_pages: answer(sub.subscription_id, ([], None)),
    )
    monkeypatch.setattr(
        fleet, "read_permissions", lambda credential, subscription_id, group: answer(subscription_id, UNKNOWN)
    )
    return slow, at_once


def _load(subscriptions) -> tuple[fleet.FleetLoad, float]:
    started = time.monotonic()
    load = fleet.FleetLoad(object(), subscriptions, datetime.now(UTC), lambda sub, now: ([], ["rg-a", "rg-b"]))
    load.wait()
    return load, time.monotonic() - started


def test_it_waits_for_every_subscription_when_none_is_slow(azure, settings):
    load, _ = _load(_subscriptions(20))
    assert load.complete and azure[1]["most"] <= settings.AZURE_PARALLEL_CALLS


def test_a_slow_subscription_leaves_the_page_as_soon_as_the_others_are_in(azure, settings):
    subscriptions = _subscriptions(20)
    _, without = _load(subscriptions)
    slow, at_once = azure
    slow[subscriptions[0].subscription_id] = 1.5
    load, seconds = _load(subscriptions)
    assert [s.subscription_id for s in load.pending()] == [subscriptions[0].subscription_id]
    assert len(load.parts) == 19
    # Well before the slow subscription's first answer, and not the old grace of a quarter of the time so far
    # (bounded by the slow call, not by the other load's time: a busy machine stretches that one).
    assert seconds < max(without + 0.3, 1.2), (seconds, without)
    # Late calls wait beside the pool's width: at most a share (two calls) for each subscription that may be late
    # (a tenth of them); a busy machine can make two look late for a while.
    assert at_once["most"] <= settings.AZURE_PARALLEL_CALLS + 2 * max(1, int(len(subscriptions) * fleet.LATE_SHARE))
    deadline = time.monotonic() + 10
    while not load.complete and time.monotonic() < deadline:
        time.sleep(0.05)
    assert load.complete  # a later page finds it in (vms.inventory rebuilds from the finished load)
