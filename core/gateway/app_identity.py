"""The portal's own read-only identity (azure-identity, client secret): it collects the audit archive when
nobody is looking. Optional; it never writes (its role assignments are Reader + Activity Log read)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.identity import ClientSecretCredential
from django.conf import settings

from .auth import KeepsClients


class AppCredential(KeepsClients):
    """What the gateway's readers need of a credential (`get_token`, `keep`, `force_refresh`), as the app."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__()
        authority = urlsplit(settings.AZURE_AUTHORITY)
        tenant = authority.path.strip("/").split("/")[0] or settings.AZURE_TENANT_ID
        self._credential = ClientSecretCredential(
            tenant,
            client_id,
            client_secret,
            authority=f"{authority.scheme}://{authority.netloc}",
            connection_verify=settings.AZURE_CA_BUNDLE or True,
            disable_instance_discovery=not settings.AZURE_INSTANCE_DISCOVERY,
        )

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        # The clients ask for the delegated scope (…/user_impersonation); an app has only the resource's
        # own permissions, which client credentials name as "<resource>/.default".
        return self._credential.get_token(*(s.rsplit("/", 1)[0] + "/.default" for s in scopes), **kwargs)

    def force_refresh(self) -> None:
        """azure-identity renews an app token by itself; a rejected one is retried once as it stands."""


def app_reader() -> AppCredential | None:
    """The configured read-only identity (AUDIT_READER_CLIENT_ID/SECRET), or None."""
    if not (settings.AUDIT_READER_CLIENT_ID and settings.AUDIT_READER_CLIENT_SECRET):
        return None
    return AppCredential(settings.AUDIT_READER_CLIENT_ID, settings.AUDIT_READER_CLIENT_SECRET)
