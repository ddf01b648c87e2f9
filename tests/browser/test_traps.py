"""Traps a person can fall into without noticing: a selection acted on that the page does not show, a result
page that a reload posts again, an address typed but not used."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import enable_with_defaults, pick, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_it_shows_a_selection_made_on_another_filter_and_asks_before_enabling(page):
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=not-configured&q=web-06")
    page.get_by_role("checkbox", name="Select web-06").check()
    page.goto("/vms/?tab=not-configured&q=build-02")
    page.get_by_role("checkbox", name="Select build-02").check()
    expect(page.get_by_text("2 selected")).to_be_visible()
    expect(page.get_by_text("Also selected, not shown on this page: web-06")).to_be_visible()

    page.get_by_role("button", name="Enable with defaults").click()
    expect(page.get_by_role("heading", name="Enable JIT with defaults on 2 VMs?")).to_be_visible()
    listed = page.get_by_role("table")
    expect(listed.get_by_role("row", name=re.compile("web-06 Contoso Production rg-web"))).to_be_visible()
    expect(listed.get_by_role("row", name=re.compile("build-02 Contoso Development rg-build"))).to_be_visible()
    page.get_by_role("button", name="Enable JIT on 2 VMs").click()

    expect(page.get_by_role("table")).to_contain_text("web-06")
    expect(page.get_by_role("table").get_by_text("Not done")).to_have_count(0)
    page.goto("/vms/?tab=not-configured")
    expect(page.get_by_text("0 selected")).to_be_visible()
    expect(page.get_by_role("button", name="Enable with defaults")).to_be_disabled()


def test_select_all_on_this_page_ticks_only_the_rows_shown(page):
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=not-configured&q=build")
    page.get_by_role("button", name="Select all on this page").click()
    expect(page.get_by_text("5 selected")).to_be_visible()  # build-01 to build-05
    page.get_by_role("button", name="Enable JIT on VMs").click()
    expect(page.get_by_role("heading", name="Enable JIT on 5 VMs")).to_be_visible()


def test_reloading_an_outcome_does_not_send_the_change_again(page):
    sign_in_as(page, "Bob Brennan")
    enable_with_defaults(page, "build-01")
    expect(page.get_by_role("table")).to_contain_text("Done")
    assert "/vms/outcome/" in page.url
    page.reload()
    expect(page.get_by_role("table")).to_contain_text("Done")
    expect(page.get_by_role("table").get_by_text("Not done")).to_have_count(0)


def test_typing_another_address_selects_it(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02"], "Request access", query="web-02")
    expect(page.get_by_role("radio", name=re.compile("My IP"))).to_be_checked()
    page.wait_for_load_state("load")  # the form's script is deferred: typing before it runs selects nothing
    page.get_by_role("textbox", name="Another IP or CIDR").fill("198.51.100.7")
    expect(page.get_by_role("radio", name="Another IP or CIDR")).to_be_checked()
    page.get_by_label("Why do you need access?").fill("Checking the new certificate")
    page.get_by_role("button", name="Open ports").click()
    expect(page.locator("code", has_text="198.51.100.7")).to_be_visible()


def test_the_configured_tab_offers_no_checkboxes_to_an_auditor(page):
    sign_in_as(page, "Carol Chen")
    page.goto("/vms/?tab=configured")
    expect(page.get_by_role("link", name="web-01", exact=True)).to_be_visible()
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("button", name="Clear selection")).to_have_count(0)


def test_the_request_form_ticks_ssh_on_linux_and_rdp_on_windows_only(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02", "sql-02"], "Request access", query="-02")
    expect(page.get_by_label("web-02 port 22", exact=True)).to_be_checked()
    expect(page.get_by_label("web-02 port 3389", exact=True)).not_to_be_checked()
    expect(page.get_by_label("sql-02 port 3389", exact=True)).to_be_checked()
    expect(page.locator("input[type=checkbox]:checked")).to_have_count(2)


def test_a_stale_edit_says_what_changed_and_offers_the_form_again_with_my_changes(page, browser, live_server):
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=configured&q=web-02")
    page.get_by_role("link", name="Edit web-02").click()
    page.get_by_label("Maximum request time, port row 1").fill("2")  # Bob's own change, to port 22

    other = browser.new_context(ignore_https_errors=True, base_url=live_server.url).new_page()
    sign_in_as(other, "Bob Brennan")  # a second admin, meanwhile, on another VM of the same policy
    other.goto("/vms/?tab=configured&q=web-03")
    other.get_by_role("link", name="Edit web-03").click()
    rows = other.get_by_label(re.compile(r"^Port, port row \d+$"))
    other.get_by_label(f"Port, port row {rows.count()}").fill("2222")
    other.get_by_role("button", name="Save").click()
    expect(other.get_by_role("table")).to_contain_text("Done")
    other.context.close()

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(re.compile("Someone added port 2222 to web-03"))).to_be_visible()
    expect(page.get_by_role("heading", name="Edit JIT on web-02")).to_be_visible()
    expect(page.get_by_label("Maximum request time, port row 1")).to_have_value("2")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("table")).to_contain_text("up to 2 h")
    expect(page.get_by_role("table").get_by_text("Not done")).to_have_count(0)
