"""The one lease primitive: claims that lapse on their own, a block that waits then names the holder, and
bookings of a job's next run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.leases import Busy, book, claim, hold, release

pytestmark = pytest.mark.django_db


def test_a_claim_is_refused_while_held_and_taken_once_it_lapses():
    now = timezone.now()
    assert claim("policy", "a", "Bob", 60, now) is None
    assert claim("policy", "b", "Dave", 60, now + timedelta(seconds=59)) == "Bob"
    assert claim("policy", "b", "Dave", 60, now + timedelta(seconds=61)) is None


def test_only_its_holder_releases_a_lease():
    claim("policy", "a", "Bob", 60)
    assert not release("policy", "b")
    assert release("policy", "a") and claim("policy", "b", "Dave", 60) is None


def test_a_block_waits_then_names_the_holder(settings):
    claim("policy", "a", "Bob", 60)
    with pytest.raises(Busy) as busy, hold("policy", "Dave", 60, wait=0):
        pass
    assert busy.value.holder_name == "Bob"


def test_a_kept_lease_outlives_its_block_until_its_time():
    until = timezone.now() + timedelta(minutes=5)
    with hold("policy", "Bob", 60, wait=0) as held:
        held.keep(until, "Bob's change, not settled yet")
    assert claim("policy", "b", "Dave", 60) == "Bob's change, not settled yet"
    assert claim("policy", "b", "Dave", 60, until + timedelta(seconds=1)) is None


def test_the_earliest_booking_of_a_run_wins():
    now = timezone.now()
    assert book("next run", now + timedelta(minutes=10))
    assert not book("next run", now + timedelta(minutes=20))  # one is already booked before then
    assert book("next run", now + timedelta(minutes=5))  # a notification due sooner needs a sooner run
    assert not book("next run", now + timedelta(minutes=6), slack=timedelta(minutes=1))
