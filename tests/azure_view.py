"""An independent look at the sandbox through Azure's own clients (real MSAL and azure-mgmt-*), to set
things up behind the portal's back and to check what the portal wrote."""

from __future__ import annotations

import time

import msal
import requests
from azure.core.credentials import AccessToken
from azure.mgmt.authorization import AuthorizationManagementClient
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
        demo.CLIENT_ID,
        client_credential=secret,
        authority=f"{sandbox.base_url}/{demo.TENANT_ID}",
        http_client=http,
        instance_discovery=False,
    )


def auth_code_result(sandbox: SandboxProcess, user_key: str, app: msal.ConfidentialClientApplication | None = None):
    app = app or msal_app(sandbox)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    redirect = sandbox.choose_account(flow["auth_uri"], user_key)
    return app.acquire_token_by_auth_code_flow(flow, query_of(redirect), scopes=SCOPES), flow, redirect


class Clients:
    def __init__(self, sandbox: SandboxProcess, token: str) -> None:
        self.options = {
            "credential": StaticToken(token),
            "base_url": sandbox.base_url,
            "connection_verify": str(sandbox.ca_path),
            "retry_backoff_factor": 0.01,
            "retry_total": 3,
            "credential_scopes": SCOPES,
        }
        self.subscriptions = SubscriptionClient(**self.options)

    def compute(self, sub: str) -> ComputeManagementClient:
        return ComputeManagementClient(subscription_id=sub, **self.options)

    def network(self, sub: str) -> NetworkManagementClient:
        return NetworkManagementClient(subscription_id=sub, **self.options)

    def security(self, sub: str) -> SecurityCenter:
        return SecurityCenter(subscription_id=sub, **self.options)

    def monitor(self, sub: str) -> MonitorManagementClient:
        return MonitorManagementClient(subscription_id=sub, **self.options)

    def authorization(self, sub: str) -> AuthorizationManagementClient:
        return AuthorizationManagementClient(subscription_id=sub, **self.options)


class AzureView:
    """What one person (Bob, by default: he may read everything) sees in Azure."""

    def __init__(self, sandbox, user_key: str = "bob") -> None:
        result, _, _ = auth_code_result(sandbox, user_key)
        self.clients = Clients(sandbox, result["access_token"])
        self.subs = {s["name"]: s["id"] for s in sandbox.info()["subscriptions"]}

    def sub(self, name: str) -> str:
        return self.subs[name]

    def vm_id(self, subscription: str, rg: str, name: str) -> str:
        return (
            f"/subscriptions/{self.sub(subscription)}/resourceGroups/{rg}/providers/Microsoft.Compute/"
            f"virtualMachines/{name}"
        )

    def policies(self, subscription: str, rg: str, location: str) -> list:
        security = self.clients.security(self.sub(subscription))
        return list(security.jit_network_access_policies.list_by_resource_group_and_region(rg, location))

    def ports(self, subscription: str, rg: str, location: str) -> dict[str, list[tuple]]:
        """VM name → [(number, protocol, prefixes, max duration)] over the group's policies."""
        return {
            vm.id.rsplit("/", 1)[-1]: [
                (
                    p.number,
                    p.protocol,
                    p.allowed_source_address_prefix or tuple(p.allowed_source_address_prefixes or ()),
                    p.max_request_access_duration,
                )
                for p in vm.ports
            ]
            for policy in self.policies(subscription, rg, location)
            for vm in policy.virtual_machines
        }

    def deny_rules(self, subscription: str, rg: str, nsg: str) -> list:
        network = self.clients.network(self.sub(subscription))
        return [
            r
            for r in network.network_security_groups.get(rg, nsg).security_rules
            if r.name.startswith("SecurityCenter-JITRule_")
        ]

    def allow_rules(self, subscription: str, rg: str, nsg: str) -> list[tuple]:
        network = self.clients.network(self.sub(subscription))
        return [
            (r.source_address_prefix, r.destination_port_range)
            for r in network.network_security_groups.get(rg, nsg).security_rules
            if r.name.startswith("SecurityCenter-JITRule-")
        ]
