"""Carol walks the tabs, searches, filters, sorts, pages, keeps a selection across pages, opens a VM."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_carol_walks_the_tabs_and_opens_a_vm(page):
    sign_in_as(page, "Carol Chen")
    page.get_by_role("link", name="Virtual machines").first.click()
    expect(page.get_by_role("link", name="Configured (10)")).to_have_attribute("aria-current", "page")
    page.get_by_role("link", name="Unsupported (8)").click()
    expect(page.get_by_role("table")).to_contain_text("Missing network security group (NSG) or Azure Firewall")
    expect(page.get_by_role("table")).to_contain_text("Classic VM")

    page.get_by_role("link", name="Not configured (23)").click()
    page.get_by_label("Per page").select_option("10")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(10)
    expect(page.get_by_role("checkbox")).to_have_count(0)  # an auditor has no action to select for
    page.get_by_role("link", name="next").click()
    expect(page).to_have_url(re.compile("page=2"))

    page.get_by_label("Search by name").fill("build")
    page.get_by_label("Power state").select_option("running")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="Not configured (3)")).to_be_visible()
    page.get_by_role("link", name="VM", exact=True).click()  # already sorted by name: now descending
    expect(page).to_have_url(re.compile("sort=-name"))
    names = page.get_by_role("table").locator("tbody tr td:nth-child(1)").all_inner_texts()
    assert names == ["build-04", "build-02", "build-01"]
    assert "q=build" in page.url and "power=running" in page.url  # a filtered view is a shareable URL

    page.get_by_role("link", name="Configured (0)").click()
    page.get_by_label("Search by name").fill("sql-01")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="sql-01", exact=True).click()
    expect(page.get_by_role("heading", name="sql-01")).to_be_visible()
    expect(page.get_by_text("Port 3389 from 198.51.100.20 for bob@contoso.test")).to_be_visible()
    expect(page.get_by_role("heading", name="Last requests")).to_be_visible()


def test_bobs_selection_survives_paging(page):
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=not-configured&per_page=10")
    page.get_by_role("checkbox", name="Select build-01").check()
    expect(page.get_by_text("1 selected")).to_be_visible()
    page.get_by_role("link", name="next").click()
    expect(page).to_have_url(re.compile("page=2"))
    expect(page.get_by_text("Also selected, not shown on this page: build-01")).to_be_visible()
    page.get_by_role("link", name="previous").click()
    expect(page.get_by_role("checkbox", name="Select build-01")).to_be_checked()
    expect(page.get_by_text("1 selected")).to_be_visible()
