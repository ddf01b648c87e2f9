"""JIT behind an Azure Firewall: Azure names the firewall's address on the policy, maps each granted port
to one of the firewall's with a DNAT rule, and the portal's connect helpers use that address and port."""

from __future__ import annotations

import re

import pytest

from requests_app.models import AccessRequestItem
from tests.azure_view import AzureView
from tests.conftest import MY_IP, fill, submit

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _firewall(view: AzureView):
    network = view.clients.network(view.sub("Contoso Development"))
    address = network.public_ip_addresses.get("rg-jump", "afw-rg-jump-pip").ip_address
    [firewall] = [f for f in network.azure_firewalls.list_all() if f.name == "afw-rg-jump"]
    return address, firewall


def test_a_vm_behind_a_firewall_is_reached_through_the_firewalls_address_and_mapped_port(signed_in, sandbox, view):
    bob = signed_in("bob")
    jump = view.vm_id("Contoso Development", "rg-jump", "jump-01")
    assert bob.post("/vms/enable/defaults", {"vm": [jump]}, follow=True).context["outcomes"][0].ok
    bob.post("/accounts/sign-out")
    address, _ = _firewall(view)
    [policy] = view.policies("Contoso Development", "rg-jump", "westus2")
    assert policy.virtual_machines[0].public_ip_address == address  # Azure fills it in

    alice = signed_in("alice")
    assert submit(alice, fill(alice, [jump])).status_code == 302
    item = AccessRequestItem.objects.get()
    assert item.status == "opened" and item.mapped_port is not None and item.mapped_port != 22
    _, firewall = _firewall(view)
    [rule] = [r for c in firewall.nat_rule_collections for r in c.rules]
    assert (rule.source_addresses, rule.destination_addresses, rule.destination_ports, rule.translated_port) == (
        [MY_IP],
        [address],
        [str(item.mapped_port)],
        "22",
    )
    mine = alice.get("/access/").content.decode()
    assert f"ssh azureuser@{address} -p {item.mapped_port}" in mine
    assert re.search(rf"its port {item.mapped_port} leads to 22", mine)

    sandbox.advance("PT2H")  # past the one-hour window: Azure removes the DNAT rule
    fresh = AzureView(sandbox, "bob")
    fresh.policies("Contoso Development", "rg-jump", "westus2")  # any ARM call applies what time has done
    _, firewall = _firewall(fresh)
    assert [r for c in firewall.nat_rule_collections for r in c.rules] == []
