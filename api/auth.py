"""Who calls the API: an Entra bearer token for the portal's API, never a session cookie. The token names the
person; the portal keeps them as a sign-in would (roles from the token's `roles`) and acts in Azure with the
token itself, traded on-behalf-of for an ARM token for that person."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.actions import keep_person
from accounts.roles import require_role
from core import gateway
from core.actor import Actor, client_ip

from . import guard

CLI_HEADER = "X-Jit-Client"


def channel_of(request: HttpRequest, caller: gateway.ApiCaller) -> str:
    """`cli` for the jit command (its own client id in the token, or its header), else `api`."""
    if settings.AZURE_CLI_CLIENT_ID and caller.client_id == settings.AZURE_CLI_CLIENT_ID:
        return "cli"
    return "cli" if request.headers.get(CLI_HEADER, "").lower().startswith("cli") else "api"


class EntraBearer(HttpBearer):
    """A bearer token for the portal's API, and (when `roles` is not None) one of those portal roles — any portal
    role when empty — checked before the body is even read: the access check comes first."""

    openapi_description = (
        "An Entra ID access token for api://<client-id>/access_as_user (Entra v2: aud is the "
        "client id). Session cookies are not accepted."
    )

    def __init__(self, roles: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.roles = roles

    def authenticate(self, request: HttpRequest, token: str) -> Actor:
        caller = gateway.authenticate(token)
        user = keep_person(caller.tenant_id, caller.object_id, caller.username, caller.display_name, caller.roles)
        # The log line and anything reading request.user see the token's person, never a cookie's.
        request.user = user
        guard.count_call(user.pk, request.method or "GET")
        if self.roles is not None:
            require_role(user, *self.roles)
        return Actor(
            user=user,
            session=gateway.api_session(token, caller.roles),
            ip=client_ip(request),
            channel=channel_of(request, caller),
        )


def person(*roles: str) -> EntraBearer:
    """A route's access check: a person's token with one of `roles` (any portal role when none is named)."""
    return EntraBearer(roles)


def actor(request: HttpRequest) -> Actor:
    return request.auth
