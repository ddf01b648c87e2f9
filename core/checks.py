"""System checks: a portal without Azure settings says so before anyone tries to sign in."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def azure_configured(app_configs, **kwargs) -> list[CheckMessage]:
    if settings.AZURE_TENANT_ID:
        return []
    return [
        Error(
            "Azure is not configured.",
            hint="Set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (README: Pointing it at real "
            "Azure), or run `make serve`, which starts the local sandbox and passes its settings.",
            id="jitportal.E001",
        )
    ]


@register()
def notifications_configured(app_configs, **kwargs) -> list[CheckMessage]:
    """Links in e-mail and webhooks need the portal's address; posts a receiver cannot check deserve a word."""
    from core.notify import email_enabled

    found: list[CheckMessage] = []
    if not settings.PORTAL_URL and (settings.WEBHOOK_URLS or (email_enabled() and not settings.DEBUG)):
        found.append(
            Error(
                "Notifications are configured but PORTAL_URL is not.",
                hint="Set PORTAL_URL to the address people open the portal at, such as "
                "https://jit.example.com: every e-mail and webhook post links to a page there.",
                id="jitportal.E002",
            )
        )
    if settings.WEBHOOK_URLS and not settings.WEBHOOK_SECRET:
        found.append(
            Warning(
                "WEBHOOK_URLS is set without WEBHOOK_SECRET: webhook posts go unsigned.",
                hint="Set WEBHOOK_SECRET (or WEBHOOK_SECRET_FILE) so that a receiver can check "
                "X-Jitportal-Signature (docs/architecture.md, Notifications).",
                id="jitportal.W001",
            )
        )
    return found
