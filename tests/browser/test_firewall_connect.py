"""Bob enables JIT on jump-01, which only an Azure Firewall protects; Alice opens SSH and My access tells
her to connect to the firewall's address on the port Azure mapped."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import enable_with_defaults, pick, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_alice_connects_through_the_firewall(page):
    sign_in_as(page, "Bob Brennan")
    enable_with_defaults(page, "jump-01")
    expect(page.get_by_role("table")).to_contain_text("JIT protects 22/Any")
    page.get_by_role("button", name="Sign out").click()

    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["jump-01"], "Request access", query="jump")
    for port in (3389, 5985, 5986):
        page.get_by_label(f"jump-01 port {port}", exact=True).uncheck()
    page.get_by_label("For", exact=True).fill("1")
    page.get_by_label("Why do you need access?").fill("Checking the bastion's logs")
    page.get_by_role("button", name="Open ports").click()
    expect(page.get_by_role("table")).to_contain_text("Open until")

    page.get_by_role("link", name="My access").last.click()
    expect(page.get_by_text(re.compile(r"^ssh azureuser@52\.\d+\.\d+\.10 -p 5\d{4}$"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"through the Azure Firewall: its port 5\d{4} leads to 22"))).to_be_visible()
