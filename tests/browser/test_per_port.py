"""Alice gives one port its own time and source, as the Azure portal lets her, and opens both ports."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import pick, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_alice_gives_one_port_its_own_time_and_source(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02"], "Request access", query="web-02")
    page.get_by_label("web-02 port 22", exact=True).check()
    page.get_by_label("web-02 port 3389", exact=True).check()
    page.get_by_text("Own time or source for web-02 port 3389").click()
    page.get_by_label("For web-02 port 3389", exact=True).fill("30")
    page.locator("select[name$='-3389-for_unit']").select_option("minutes")
    page.get_by_label("From web-02 port 3389", exact=True).fill("198.51.100.7")
    page.get_by_label("For", exact=True).fill("1")
    page.get_by_label("Why do you need access?").fill("Checking the RDP gateway")
    page.get_by_role("button", name="Open ports").click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("from 198.51.100.7")
    expect(table.get_by_text(re.compile("Open until"))).to_have_count(2)
