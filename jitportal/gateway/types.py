"""Plain frozen values the gateway returns; nothing from the SDK leaves the gateway."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignedIn:
    tenant_id: str
    object_id: str
    username: str
    display_name: str
    app_roles: tuple[str, ...]


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    display_name: str
    state: str
