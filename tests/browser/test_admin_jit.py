"""Bob selects two VMs, adds a custom port, saves; then edits one and removes JIT from it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_bob_enables_edits_and_removes_jit(page):
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=not-configured&q=build")
    page.get_by_role("checkbox", name="Select build-01").check()
    page.get_by_role("checkbox", name="Select build-02").check()
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.get_by_role("button", name="Enable JIT on VMs").click()

    expect(page.get_by_role("heading", name="Enable JIT on 2 VMs")).to_be_visible()
    expect(page.get_by_label("Port, port row 1")).to_have_value("22")
    page.get_by_label("Port, port row 5").fill("8443")
    page.get_by_label("Protocol, port row 5").select_option("TCP")
    page.get_by_label("Allowed source IPs, port row 5").select_option("list")
    page.get_by_label("IPs or CIDRs, port row 5").fill("10.0.0.0/24")
    page.get_by_label("Maximum request time, port row 5").fill("1")
    page.get_by_role("button", name="Save").click()
    results = page.get_by_role("table")
    expect(results).to_contain_text("build-01")
    expect(results).to_contain_text("8443/TCP from 10.0.0.0/24 up to 1 h")
    expect(results.get_by_text("Not done")).to_have_count(0)

    page.goto("/vms/?tab=configured&q=build-01")
    page.get_by_role("link", name="Edit build-01").click()
    page.get_by_label("Remove, port row 2").check()  # drop RDP 3389
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("table")).not_to_contain_text("3389")
    expect(page.get_by_role("table")).to_contain_text("Done")

    page.goto("/vms/?tab=configured&q=build-01")
    page.get_by_role("link", name="Remove JIT build-01").click()
    expect(page.get_by_text("Access that is open now stays open until it expires.")).to_be_visible()
    page.get_by_role("button", name="Remove JIT").click()
    expect(page.get_by_role("table")).to_contain_text("JIT removed")
    page.goto("/vms/?tab=not-configured&q=build-01")
    expect(page.get_by_role("link", name="build-01", exact=True)).to_be_visible()
