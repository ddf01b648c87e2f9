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
    expect(page.get_by_label("Port, port row 1")).to_have_value("22")  # both are Linux: SSH only
    expect(page.get_by_label("Port, port row 2")).to_have_value("")
    page.get_by_label("Port, port row 2").fill("8443")
    page.get_by_label("Protocol, port row 2").select_option("TCP")
    page.get_by_label("Allowed source IPs, port row 2").select_option("list")
    page.get_by_label("IPs or CIDRs, port row 2").fill("10.0.0.0/24")
    page.get_by_label("Maximum request time, port row 2").fill("1")
    page.get_by_role("button", name="Save").click()
    results = page.get_by_role("table")
    expect(results).to_contain_text("build-01")
    expect(results).to_contain_text("8443/TCP from 10.0.0.0/24 up to 1 h")
    expect(results.get_by_text("Not done")).to_have_count(0)

    page.goto("/vms/?tab=configured&q=build-01")
    page.get_by_role("link", name="Edit build-01").click()
    summary = page.get_by_role("status").filter(has_text="Saving removes")
    expect(summary).to_be_hidden()
    page.get_by_label("Remove, port row 2").check()  # drop 8443
    expect(summary).to_have_text("Saving removes port 8443 from build-01: JIT will no longer open it on request.")
    page.get_by_label("Port, port row 1").fill("")  # emptied: 22 goes too
    expect(summary).to_contain_text("Saving removes ports 22, 8443 from build-01")
    page.get_by_label("Port, port row 1").fill("22")
    page.get_by_role("button", name="Save").click()
    # The server asks too (it works without JavaScript: test_edit_confirmation_without_javascript).
    expect(page.get_by_role("heading", name="Remove port 8443 from build-01?")).to_be_visible()
    page.get_by_role("button", name="Remove port 8443 and save").click()
    expect(page.get_by_role("table")).not_to_contain_text("8443")
    expect(page.get_by_role("table")).to_contain_text("Done")

    page.goto("/vms/?tab=configured&q=build-01")
    page.get_by_role("link", name="Remove JIT build-01").click()
    expect(page.get_by_text("Access that is open now stays open until it expires.")).to_be_visible()
    page.get_by_role("button", name="Remove JIT").click()
    expect(page.get_by_role("table")).to_contain_text("JIT removed")
    page.goto("/vms/?tab=not-configured&q=build-01")
    expect(page.get_by_role("link", name="build-01", exact=True)).to_be_visible()


@pytest.mark.parametrize("javascript", [False, True], ids=["javascript-off", "javascript-on"])
def test_an_edit_that_removes_a_port_asks_first_with_or_without_javascript(browser, sandbox, live_server, javascript):
    """#23: Edit says what it removes before saving; the server's own page, so the question holds with JS off."""
    context = browser.new_context(ignore_https_errors=True, base_url=live_server.url, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in_as(page, "Bob Brennan")
        page.goto("/vms/?tab=configured&q=web-03")
        page.get_by_role("link", name="Edit web-03").click()
        page.get_by_label("Remove, port row 2").check()  # 3389
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("heading", name="Remove port 3389 from web-03?")).to_be_visible()
        expect(page.get_by_role("list", name="Ports this edit removes")).to_contain_text(
            "Port 3389/Any from per request"
        )
        page.get_by_role("button", name="Back to the form").click()  # nothing saved; the tick is still there
        expect(page.get_by_label("Remove, port row 2")).to_be_checked()
        page.get_by_role("button", name="Save").click()
        page.get_by_role("button", name="Remove port 3389 and save").click()
        expect(page.get_by_role("table")).to_contain_text("Done")
        page.goto("/vms/?tab=configured&q=web-03")
        page.get_by_role("link", name="web-03", exact=True).click()
        expect(page.get_by_role("table").filter(has_text="Maximum request time")).not_to_contain_text("3389")
    finally:
        context.close()
