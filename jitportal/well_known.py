"""/.well-known/jit-portal.json: what the `jit` command needs to sign a person in and call the API, so that the
person types only the portal's address. Everything here is public in Entra anyway (tenant, authority, a public
client's id, a scope's name): no secret, no sign-in needed to read it."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

DOCUMENT_VERSION = 1


@require_safe
def jit_portal(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(
        {
            "version": DOCUMENT_VERSION,
            "tenant_id": settings.AZURE_TENANT_ID,
            "authority": settings.AZURE_AUTHORITY,
            # False only for an authority Entra's instance discovery cannot know (the sandbox, a private cloud).
            "instance_discovery": settings.AZURE_INSTANCE_DISCOVERY,
            # The command's own registration (a public client); null when the portal has none configured.
            "client_id": settings.AZURE_CLI_CLIENT_ID or None,
            "scopes": [f"api://{settings.AZURE_CLIENT_ID}/{settings.API_SCOPE}"],
            "api_base_url": request.build_absolute_uri("/api/v1/"),
        }
    )
    response["Cache-Control"] = "public, max-age=300"
    return response
