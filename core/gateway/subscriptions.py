"""Subscriptions the signed-in person can see."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

from .auth import UserCredential
from .parse import subscription
from .raw import read_list
from .types import Subscription

RESOURCES_VERSION = "2022-12-01"


def list_subscriptions(session: MutableMapping[str, Any]) -> list[Subscription]:
    """ARM: GET /subscriptions (Subscriptions - List)."""
    return list_subscriptions_with(UserCredential(session))


def list_subscriptions_with(credential: UserCredential) -> list[Subscription]:
    return subscriptions_and_clock(credential)[0]


def subscriptions_and_clock(credential: UserCredential) -> tuple[list[Subscription], datetime]:
    """ARM: GET /subscriptions, and Azure's clock (its answer's Date; ours if it gave none)."""
    items, now = read_list(credential, "/subscriptions", {"api-version": RESOURCES_VERSION}, "your subscriptions")
    return sorted((subscription(s) for s in items), key=lambda s: s.display_name.lower()), now or datetime.now(UTC)
