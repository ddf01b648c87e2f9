"""In a real browser: Alice asks for Production, Hana approves in her inbox and the ports open; Alice ends a
window early and extends another from My access."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from requests_app.models import ApprovalRule
from tests.browser.conftest import pick, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def other_page(browser, live_server):
    """A second person's browser (its own cookies)."""
    context = browser.new_context(ignore_https_errors=True, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _request(page, vm: str, why: str, button: str) -> None:
    pick(page, "configured", [vm], "Request access")
    page.get_by_label("For", exact=True).fill("1")
    page.get_by_label("Why do you need access?").fill(why)
    page.get_by_role("button", name=button).click()


def test_alice_asks_hana_approves_and_the_ports_open(page, other_page, sandbox):
    prod = next(s["id"] for s in sandbox.info()["subscriptions"] if s["name"] == "Contoso Production")
    ApprovalRule.objects.create(name="Production", subscription_id=prod, approvals_needed=1)
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02"], "Request access")
    expect(page.locator("#approval-note")).to_contain_text("Production: 1 approval for every request")
    page.get_by_label("For", exact=True).fill("1")
    page.get_by_label("Why do you need access?").fill("patch openssl")
    page.get_by_role("button", name="Send request").click()
    expect(page.locator(".state")).to_have_text("Pending approval (0 of 1)")

    sign_in_as(other_page, "Hana Hill")
    other_page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    inbox = other_page.get_by_role("table")
    expect(inbox).to_contain_text("alice@contoso.test")
    expect(inbox).to_contain_text("patch openssl")
    inbox.get_by_role("link").first.click()
    other_page.get_by_label("Comment").fill("Go ahead")
    other_page.get_by_role("button", name="Approve and open").click()
    expect(other_page.locator(".state")).to_have_text("Open now")
    expect(other_page.locator(".decisions")).to_contain_text("hana@contoso.test approved")

    page.get_by_role("link", name="My access", exact=True).click()
    expect(page.get_by_role("timer").first).to_have_text(re.compile(r"^(59|60) min"))
    expect(page.locator("td.state").first).to_have_text("Open now")


def test_alice_ends_one_window_early_and_extends_another(page):
    sign_in_as(page, "Alice Archer")
    _request(page, "dev-01", "debugging the build agent", "Open ports")
    expect(page.get_by_role("table")).to_contain_text("Open until")
    page.get_by_role("button", name="End now").click()
    expect(page.get_by_role("status").first).to_contain_text("Ended")
    expect(page.locator(".state")).to_have_text("Ended early")

    _request(page, "dev-02", "installing the IIS role", "Open ports")
    page.get_by_role("link", name="My access", exact=True).click()
    page.get_by_role("link", name=re.compile("^Extend dev-02")).click()
    page.get_by_label("Open for (from now)").fill("2")
    page.get_by_role("combobox", name="Unit").select_option("hours")
    page.get_by_role("button", name="Extend").click()
    expect(page.get_by_text("Extends")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("Open until")
    page.get_by_role("link", name="My access", exact=True).click()
    expect(page.get_by_role("timer").first).to_have_text(re.compile(r"^(1 h 59 min|2 h)"))
