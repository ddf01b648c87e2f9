"""Alice selects two VMs, uses My IP, asks for one hour, says why, opens ports, sees the countdown and
downloads the .rdp file."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import pick, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_alice_requests_access_and_connects(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02", "sql-02"], "Request access")

    expect(page.get_by_role("heading", name="Request access")).to_be_visible()
    expect(page.get_by_label("web-02 port 22", exact=True)).to_be_checked()  # SSH on Linux, RDP on Windows
    expect(page.get_by_label("sql-02 port 3389", exact=True)).to_be_checked()
    page.get_by_label("sql-02 port 22", exact=True).check()
    page.get_by_role("radio", name=re.compile(r"My IP")).check()
    page.get_by_label("For", exact=True).fill("1")
    page.get_by_label("Why do you need access?").fill("Rotating the SQL certificates")
    page.get_by_role("button", name="Open ports").click()

    results = page.get_by_role("table")
    expect(results).to_contain_text("Open until")
    expect(results).not_to_contain_text("Refused")
    page.get_by_role("link", name="My access").last.click()
    countdown = page.get_by_role("timer").first
    expect(countdown).to_have_text(re.compile(r"^(59|60) min"))
    opened_here = page.locator("table.open-now tr:not(.outside)")  # the demo's web-01 was opened outside the portal
    expect(opened_here.get_by_text(re.compile(r"^ssh azureuser@20\."))).to_have_count(2)  # web-02 and sql-02
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download sql-02.rdp").click()
    download = download_info.value
    assert download.suggested_filename == "sql-02.rdp"
    assert open(download.path()).read().startswith("full address:s:20.")
