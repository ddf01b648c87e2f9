"""`jit ssh` to a VM that JIT reaches through an Azure Firewall (issue #25): ssh goes to the firewall's public
address and the port Azure mapped to the VM's 22, never to the VM's own (private) address."""

from __future__ import annotations

import json

import pytest

from tests.azure_view import AzureView
from tests.cli.conftest import device_login

pytestmark = [pytest.mark.integration]


@pytest.fixture
def jump(sandbox, signed_in) -> str:
    """jump-01, which only the Azure Firewall afw-rg-jump protects, with JIT enabled on it by Bob."""
    view = AzureView(sandbox, "bob")
    vm_id = view.vm_id("Contoso Development", "rg-jump", "jump-01")
    assert signed_in("bob").post("/vms/enable/defaults", {"vm": [vm_id]}, follow=True).context["outcomes"][0].ok
    return vm_id


def firewall_address(sandbox) -> str:
    network = AzureView(sandbox, "bob").clients.network(AzureView(sandbox, "bob").sub("Contoso Development"))
    return network.public_ip_addresses.get("rg-jump", "afw-rg-jump-pip").ip_address


def test_ssh_goes_to_the_firewalls_address_and_mapped_port(jit, sandbox, jump):
    assert device_login(jit, sandbox, "alice").returncode == 0
    connected = jit.run("--output", "json", "ssh", "azureuser@jump-01", "--reason", "patching the jump host")
    assert connected.returncode == 0, connected.stderr
    address = firewall_address(sandbox)
    host, port, user = (
        json.loads(connected.stdout)["access"][k] for k in ("connect_address", "connect_port", "vm_name")
    )
    assert user == "jump-01" and host == address and port >= 50000  # the sandbox maps from 50000, as Azure does high
    assert jit.ssh_arguments() == ["-p", str(port), "-l", "azureuser", address]
    # What is open says the same: the firewall's address and the mapped port, with the VM's port beside it.
    [open_now] = jit.json("status")["items"]
    assert (open_now["connect_address"], open_now["connect_port"], open_now["port"]) == (address, port, 22)
