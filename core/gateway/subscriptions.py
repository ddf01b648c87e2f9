"""Subscriptions the signed-in person can see."""

from __future__ import annotations

from collections.abc import MutableMapping
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
    items, _ = read_list(credential, "/subscriptions", {"api-version": RESOURCES_VERSION}, "your subscriptions")
    return sorted((subscription(s) for s in items), key=lambda s: s.display_name.lower())
