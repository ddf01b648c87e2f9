"""JIT you can verify, as people use it: the Health page, a VM page's health section, restore and delete."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_carol_finds_every_state_on_the_health_page_and_downloads_it(page):
    sign_in_as(page, "Carol Chen")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Health").click()
    expect(page.get_by_role("heading", name="Does JIT really protect each port?")).to_be_visible()
    counts = page.get_by_role("list", name="VMs per state")
    for label in (
        "Bypassed",
        "Deny rule missing",
        "Exposed, no JIT",
        "Left-over allow",
        "Unknown",
        "Open now by JIT",
        "Protected",
    ):
        expect(counts.get_by_text(label, exact=True)).to_be_visible()
    page.get_by_role("combobox", name="State").select_option("bypassed")
    page.get_by_role("combobox", name="Severity").select_option("critical")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("region", name="Ports and their state")
    expect(table).to_contain_text("allow-ssh, priority 290, from Internet, on sql-02-nsg (NIC)")
    expect(table).not_to_contain_text("dev-03")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == "jit-health.csv"


def test_the_tabs_badge_and_filter_by_health(page):
    sign_in_as(page, "Carol Chen")
    page.goto("/vms/?tab=configured")
    page.get_by_label("JIT health").select_option("missing")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="dev-02", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="web-02", exact=True)).to_have_count(0)
    expect(page.locator(".health.missing").first).to_contain_text("Deny rule missing")


def test_bob_restores_jits_rules_after_a_redeploy(page, sandbox):
    sandbox.control("POST", "nsgs/redeploy", {"nsg": "nsg-rg-web-default"})
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=configured&q=web-03")
    page.get_by_role("link", name="web-03", exact=True).click()
    section = page.get_by_role("region", name="JIT health: Deny rule missing")
    expect(section).to_contain_text("no JIT deny rule covers port 22; open to the virtual network (AllowVnetInBound)")
    expect(section).to_contain_text("az network nsg rule create")
    page.get_by_role("link", name="Restore JIT's rules").click()
    page.get_by_role("button", name="Restore JIT's rules").click()
    expect(page.get_by_role("status")).to_contain_text("JIT's deny rule is back on every port of the policy.")
    expect(page.get_by_text("JIT health now: Protected")).to_be_visible()


def test_bob_deletes_a_bypassing_rule_after_a_confirmation(page):
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=configured&q=sql-02")
    page.get_by_role("link", name="sql-02", exact=True).click()
    section = page.get_by_role("region", name="JIT health: Bypassed (critical)")
    expect(section).to_contain_text("az network nsg rule delete")
    section.get_by_role("link", name="Delete this rule").click()
    expect(page.get_by_role("heading", name="Delete rule allow-ssh from sql-02-nsg?")).to_be_visible()
    page.get_by_role("button", name="Delete this rule").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted rule allow-ssh from sql-02-nsg.")
    page.goto("/vms/?tab=configured&q=sql-02")
    expect(page.locator(".health").first).to_have_text("Protected")


def test_alice_is_warned_on_the_request_form(page):
    sign_in_as(page, "Alice Archer")
    page.goto("/vms/?tab=configured&q=sql-02")
    page.get_by_role("link", name="Request access sql-02").click()
    expect(page.get_by_role("status").filter(has_text="already open to the Internet")).to_contain_text(
        "Port 22 of sql-02 is already open to the Internet by rule allow-ssh"
    )
