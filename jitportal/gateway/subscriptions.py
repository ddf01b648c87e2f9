"""Subscriptions the signed-in person can see."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from azure.mgmt.resource.subscriptions import SubscriptionClient

from .auth import UserCredential
from .clients import call, client_options
from .types import Subscription


def list_subscriptions(session: MutableMapping[str, Any]) -> list[Subscription]:
    """ARM: GET /subscriptions (Subscriptions - List)."""
    return list_subscriptions_with(UserCredential(session))


def list_subscriptions_with(credential: UserCredential) -> list[Subscription]:
    client = SubscriptionClient(**client_options(credential))
    items = call(credential, lambda: list(client.subscriptions.list()), "your subscriptions")
    return sorted(
        (Subscription(s.subscription_id, s.display_name or s.subscription_id, str(getattr(s.state, "value", s.state) or ""))
         for s in items),
        key=lambda s: s.display_name.lower(),
    )
