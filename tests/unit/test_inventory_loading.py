"""A cold load at a thousand subscriptions outlives Azure's timeout several times over: while it keeps moving,
every look at the page follows the same load, and the inventory it makes is kept from when it is made."""

from __future__ import annotations

import time

import pytest

from vms import inventory
from vms.inventory import Inventory, Loading, inventory_within


class SlowLoad:
    """A load that takes one more subscription in each time it is looked at, never finishing on its own."""

    def __init__(self, total: int) -> None:
        self.subscriptions = tuple(range(total))
        self.parts: dict[int, object] = {}

    def wait(self, seconds: float | None = None) -> bool:
        self.parts[len(self.parts)] = object()
        return False


@pytest.fixture
def loads(monkeypatch, settings):
    settings.AZURE_TIMEOUT_SECONDS = 0.01  # four timeouts: 40 ms, far shorter than the looks below
    started: list[SlowLoad] = []

    def load_fleet(session, then, **kwargs):
        started.append(SlowLoad(1000))
        return started[-1]

    monkeypatch.setattr(inventory.gateway, "load_fleet", load_fleet)
    inventory._STARTED.clear()
    yield started
    inventory._STARTED.clear()


def test_a_load_that_keeps_moving_is_followed_not_started_again(loads):
    for _ in range(5):
        shown = inventory_within({}, 4242, 0)
        assert isinstance(shown, Loading)
        time.sleep(0.06)  # past four timeouts since the load started, but it moved at each look
    assert len(loads) == 1
    assert shown.done == 5


def test_a_load_that_stopped_moving_is_started_again(loads, monkeypatch):
    inventory_within({}, 4243, 0)
    monkeypatch.setattr(SlowLoad, "wait", lambda self, seconds=None: False)  # no subscription answers any more
    inventory_within({}, 4243, 0)
    time.sleep(0.06)
    inventory_within({}, 4243, 0)
    assert len(loads) == 2


def test_an_inventory_is_kept_from_when_it_is_made_not_from_when_its_load_began(settings):
    settings.INVENTORY_CACHE_SECONDS = 60
    made = Inventory(
        rows=(), failures=(), subscription_count=0, azure_now=None, fetched_at=time.time() - 120, epochs={}
    )
    inventory._keep(4244, made)
    try:
        assert inventory._cached(4244) is made
    finally:
        inventory.forget(4244)


def test_a_refresh_joins_a_load_just_begun_and_a_write_drops_it(loads):
    inventory_within({}, 4245, 0)
    inventory.forget(4245, refresh=True)
    inventory_within({}, 4245, 0)
    assert len(loads) == 1  # ten Refresh clicks made ten whole loads
    inventory.forget(4245)  # after the person's own write: what is in flight may have read before it
    inventory_within({}, 4245, 0)
    assert len(loads) == 2


def test_a_refresh_after_a_load_long_begun_starts_another(loads):
    inventory_within({}, 4246, 0)
    load, _, seen, moved_at = inventory._STARTED[4246]
    inventory._STARTED[4246] = (load, time.time() - inventory.REFRESH_JOINS_SECONDS - 1, seen, moved_at)
    inventory.forget(4246, refresh=True)
    inventory_within({}, 4246, 0)
    assert len(loads) == 2
