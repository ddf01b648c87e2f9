"""The request form as Azure users know it: the usual ports ticked, each problem said once with its unit, a
warning for a VM that is not running, and a justification that shows its limit and counts as one types."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import pick, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_stopped_vm_is_warned_about_and_a_long_window_is_refused_once_with_units(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02", "web-04"], "Request access", query="web-0")
    expect(page.get_by_text("web-04 is stopped: opening ports will not help until it runs.")).to_be_visible()
    expect(page.get_by_text(re.compile("web-02 is"))).to_have_count(0)

    page.get_by_label("For", exact=True).fill("4")
    page.get_by_label("Unit", exact=True).select_option("hours")
    justification = page.get_by_label("Why do you need access?")
    justification.fill("Rotating keys")
    expect(page.get_by_text("13 of 1000 characters")).to_be_visible()
    page.get_by_role("button", name="Open ports").click()
    expect(page.get_by_role("alert").filter(has_text="allow at most")).to_have_count(1)
    expect(page.get_by_text("web-02 port 22 and web-04 port 22 allow at most 3 h, not 4 h")).to_be_visible()
    expect(page.get_by_text(re.compile("Ensure this value"))).to_have_count(0)


def test_the_form_ticks_the_ports_of_my_last_request(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02"], "Request access", query="web-02")
    page.get_by_label("web-02 port 22", exact=True).uncheck()
    page.get_by_label("web-02 port 3389", exact=True).check()
    page.get_by_label("Why do you need access?").fill("Desktop session for the installer")
    page.get_by_role("button", name="Open ports").click()
    expect(page.locator("code").first).to_be_visible()

    pick(page, "configured", ["web-02"], "Request access", query="web-02")
    expect(page.get_by_label("web-02 port 3389", exact=True)).to_be_checked()
    expect(page.get_by_label("web-02 port 22", exact=True)).not_to_be_checked()


def test_the_source_fieldset_says_another_ip_once_and_its_box_is_still_named(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02"], "Request access", query="web-02")
    source = page.get_by_role("group", name="Source")
    assert source.inner_text().count("Another IP or CIDR") == 1
    expect(source.get_by_role("textbox", name="Another IP or CIDR", exact=True)).to_be_visible()
