"""Real MSAL and real azure-mgmt-* clients pointed at the sandbox, as the gateway would build them."""

from __future__ import annotations

import time

import msal
import pytest
import requests
from azure.core.credentials import AccessToken
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient
from azure.mgmt.security import SecurityCenter

from sandbox import demo
from tests.sandbox_client import SandboxProcess, query_of

REDIRECT_URI = "http://127.0.0.1:1/callback"
SCOPES = ["https://management.azure.com/user_impersonation"]


class StaticToken:
    """A TokenCredential holding one real access token the sandbox issued."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3000)


def msal_app(sandbox: SandboxProcess, secret: str = demo.CLIENT_SECRET) -> msal.ConfidentialClientApplication:
    http = requests.Session()
    http.trust_env = False
    http.verify = str(sandbox.ca_path)
    return msal.ConfidentialClientApplication(
        demo.CLIENT_ID, client_credential=secret, authority=f"{sandbox.base_url}/{demo.TENANT_ID}",
        http_client=http, instance_discovery=False)


def auth_code_result(sandbox: SandboxProcess, user_key: str, app: msal.ConfidentialClientApplication | None = None):
    app = app or msal_app(sandbox)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    redirect = sandbox.choose_account(flow["auth_uri"], user_key)
    return app.acquire_token_by_auth_code_flow(flow, query_of(redirect), scopes=SCOPES), flow, redirect


@pytest.fixture
def token_for(sandbox):
    cache: dict[str, str] = {}

    def get(user_key: str, fresh: bool = False) -> str:
        if fresh or user_key not in cache:
            result, _, _ = auth_code_result(sandbox, user_key)
            cache[user_key] = result["access_token"]
        return cache[user_key]
    return get


class Clients:
    def __init__(self, sandbox: SandboxProcess, token: str) -> None:
        options = {"credential": StaticToken(token), "base_url": sandbox.base_url,
                   "connection_verify": str(sandbox.ca_path), "retry_backoff_factor": 0.01, "retry_total": 3,
                   "credential_scopes": SCOPES}
        self.options = options
        self.subscriptions = SubscriptionClient(**options)
        self._options = options

    def compute(self, sub: str) -> ComputeManagementClient:
        return ComputeManagementClient(subscription_id=sub, **self._options)

    def network(self, sub: str) -> NetworkManagementClient:
        return NetworkManagementClient(subscription_id=sub, **self._options)

    def security(self, sub: str) -> SecurityCenter:
        return SecurityCenter(subscription_id=sub, **self._options)

    def monitor(self, sub: str) -> MonitorManagementClient:
        return MonitorManagementClient(subscription_id=sub, **self._options)


@pytest.fixture
def clients_for(sandbox, token_for):
    return lambda user_key, fresh=False: Clients(sandbox, token_for(user_key, fresh))


@pytest.fixture
def subs(sandbox) -> dict[str, str]:
    """Subscription ids by display name's last word: prod, dev, shared, legacy."""
    names = {"Contoso Production": "prod", "Contoso Development": "dev", "Contoso Shared Services": "shared",
             "Contoso Legacy Apps": "legacy"}
    return {names[s["name"]]: s["id"] for s in sandbox.info()["subscriptions"]}
