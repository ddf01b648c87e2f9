"""An independent look at the sandbox through the real SDK, to check what the portal wrote."""

from __future__ import annotations

from tests.sandbox.conftest import Clients, auth_code_result


class AzureView:
    def __init__(self, sandbox, user_key: str = "bob") -> None:
        result, _, _ = auth_code_result(sandbox, user_key)
        self.clients = Clients(sandbox, result["access_token"])
        self.subs = {s["name"]: s["id"] for s in sandbox.info()["subscriptions"]}

    def sub(self, name: str) -> str:
        return self.subs[name]

    def policies(self, subscription: str, rg: str, location: str) -> list:
        security = self.clients.security(self.sub(subscription))
        return list(security.jit_network_access_policies.list_by_resource_group_and_region(rg, location))

    def ports(self, subscription: str, rg: str, location: str) -> dict[str, list[tuple]]:
        """VM name → [(number, protocol, prefixes, max duration)] over the group's policies."""
        return {vm.id.rsplit("/", 1)[-1]: [(p.number, p.protocol, p.allowed_source_address_prefix
                                            or tuple(p.allowed_source_address_prefixes or ()),
                                            p.max_request_access_duration) for p in vm.ports]
                for policy in self.policies(subscription, rg, location) for vm in policy.virtual_machines}

    def deny_rules(self, subscription: str, rg: str, nsg: str) -> list:
        network = self.clients.network(self.sub(subscription))
        return [r for r in network.network_security_groups.get(rg, nsg).security_rules
                if r.name.startswith("SecurityCenter-JITRule_")]
