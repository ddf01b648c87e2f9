"""The worker's health scan: the whole fleet as the read-only app identity sees it, when one is configured."""

from __future__ import annotations

from django.conf import settings

from core import gateway

from .exposures import Seen, observe
from .inventory import fleet_read


def scan_as_app() -> tuple[int, int] | None:
    """ARM: the app's subscriptions, then each one's lists (as the VM tabs read them, NSGs included); keeps the
    exposure windows. (opened, ended), or None when no app identity is configured."""
    credential = gateway.app_reader()
    if credential is None:
        return None
    subscriptions, azure_now = gateway.subscriptions_and_clock(credential)
    rows, failures = fleet_read(credential, tuple(subscriptions), azure_now, settings.AZURE_TIMEOUT_SECONDS * 2)
    opened, ended = observe(Seen(rows, failures, azure_now))
    return len(opened), len(ended)
