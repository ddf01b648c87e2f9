"""In a real browser: the rules page says which rules Azure lets people skip and who, Bob picks a new rule's
scope by name and is told what is wrong before it is saved, and Frank (Reader in Azure) sees it read-only.
axe finds nothing on the pages at 1280 and 390 px. SCREENSHOT_DIR=… keeps a screenshot of each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from requests_app.actions import ensure_demo_rule
from requests_app.models import ApprovalRule
from tests.browser.conftest import sign_in_as
from tests.browser.test_accessibility import violations

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _look(page, name: str) -> list[str]:
    """axe at both widths, and a screenshot of each when SCREENSHOT_DIR is set."""
    found = []
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        found += violations(page)
        width_px = page.evaluate("document.documentElement.scrollWidth")
        assert width_px <= width, f"{name} is {width_px} px wide at {width} px"
        if folder := os.environ.get("SCREENSHOT_DIR"):
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    return found


def test_rules_page_flags_skippable_rules_checks_a_new_one_and_is_read_only_for_frank(page, browser, live_server, subs):
    ensure_demo_rule(subs["prod"], subs["shared"])
    other = browser.new_context(ignore_https_errors=True, base_url=live_server.url).new_page()
    sign_in_as(other, "Alice Archer")  # the portal knows Alice and Hana by name once they have signed in
    other.context.close()
    hana = browser.new_context(ignore_https_errors=True, base_url=live_server.url).new_page()
    sign_in_as(hana, "Hana Hill")
    hana.context.close()

    sign_in_as(page, "Bob Brennan")
    page.goto("/access/rules/")
    production = page.get_by_role("region", name="Production")
    expect(production).to_contain_text("Can be skipped")
    expect(production).to_contain_text("Alice Archer (alice@contoso.test) — can open ports without approval")
    shared = page.get_by_role("region", name="Shared services")
    expect(shared).to_contain_text("Enforced")
    found = _look(page, "rules-bob")

    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name", exact=True).fill("Development web")
    page.get_by_label("Subscription", exact=True).select_option(label="Contoso Development")
    page.get_by_label("Resource group", exact=True).select_option(label="rg-dev")
    page.get_by_label("Approvers", exact=False).fill("hana@contoso.test\nnobody@contoso.test")
    page.get_by_role("button", name="Save rule").click()
    problems = page.locator("#rule-problems")
    expect(problems).to_contain_text("nobody@contoso.test has never signed in to the portal")
    expect(problems).to_contain_text("Azure does not let hana@contoso.test open ports in Contoso Development / rg-dev")
    found += _look(page, "rule-problems")

    sign_in_as(
        frank := browser.new_context(ignore_https_errors=True, base_url=live_server.url).new_page(), "Frank Fischer"
    )
    frank.goto("/access/rules/")
    expect(frank.get_by_role("region", name="Production")).to_contain_text("Read-only for you. Azure does not give you")
    expect(frank.get_by_role("link", name="Delete rule Production")).to_have_count(0)
    found += _look(frank, "rules-frank")
    # The rule's edit address, typed: back on the rules page with why, as a message (a <li role=status> in a
    # <ul> was axe's "list", serious, on every page that showed one).
    frank.goto(f"/access/rules/{ApprovalRule.objects.get(name='Production').pk}/")
    expect(frank.get_by_role("status").first).to_contain_text("managing an approval rule there takes the right")
    found += _look(frank, "rule-refused-frank")
    frank.context.close()
    assert found == []
