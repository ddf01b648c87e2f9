"""System checks: a portal without Azure settings says so before anyone tries to sign in."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def azure_configured(app_configs, **kwargs) -> list[Error]:
    if settings.AZURE_TENANT_ID:
        return []
    return [Error("Azure is not configured.",
                  hint="Set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (README: Pointing it at real "
                       "Azure), or run `make serve`, which starts the local sandbox and passes its settings.",
                  id="jitportal.E001")]
