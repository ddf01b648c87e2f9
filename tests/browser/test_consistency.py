"""One product: times shown one way, empty results that say so, the Azure portal's words."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_search_that_matches_nothing_says_so_and_offers_to_clear_it(page):
    sign_in_as(page, "Alice Archer")
    page.goto("/vms/?tab=configured&q=xyz")
    expect(page.get_by_text("No VMs match “xyz”.")).to_be_visible()
    page.get_by_role("link", name="Clear the search.").click()
    expect(page.get_by_role("link", name="web-01", exact=True)).to_be_visible()


def test_times_are_shown_in_the_readers_zone_with_utc_beside(browser, sandbox, live_server):
    context = browser.new_context(ignore_https_errors=True, base_url=live_server.url, timezone_id="Europe/Berlin")
    page = context.new_page()
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=configured&q=web-01")
    last = page.locator("td time.local").first
    expect(last).to_contain_text("your time (")
    expect(last).to_contain_text(" UTC)")
    context.close()


def test_the_unsupported_tab_is_sorted_by_name(page):
    sign_in_as(page, "Carol Chen")
    page.goto("/vms/?tab=unsupported")
    table = page.locator("table.fleet")
    names = table.locator("tbody tr td:first-child").all_inner_texts()
    assert names and names == sorted(names)
    header, cell = table.locator("thead th").first, table.locator("tbody td").first
    assert header.evaluate("e => getComputedStyle(e).textAlign") == cell.evaluate("e => getComputedStyle(e).textAlign")


def test_a_vms_activity_offers_download_as_csv(page):
    sign_in_as(page, "Carol Chen")
    page.goto("/vms/?tab=configured&q=web-01")
    page.get_by_role("link", name="Activity web-01").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as CSV").click()
    assert info.value.suggested_filename.endswith(".csv")
