"""Reach: phone-width screens, long words, pages for errors, a favicon."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from requests_app.models import ApprovalRule
from tests.browser.conftest import pick, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_vm_list_reflows_at_390_px_and_sign_out_is_not_clipped(page):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_as(page, "Bob Brennan")
    ApprovalRule.objects.create(name="Production")  # a table with a screen-reader-only header past the screen
    for url in (
        "/vms/",
        "/vms/?tab=not-configured",
        "/vms/?tab=unsupported",
        "/audit/",
        "/access/approvals/",
        "/access/rules/",
        "/access/rules/new",
    ):
        page.goto(url)
        assert _page_width(page) <= 390, url
    box = page.get_by_role("button", name="Sign out").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390


def test_a_long_unbroken_justification_wraps(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02"], "Request access", query="web-02")
    page.get_by_label("Why do you need access?").fill("x" * 600)
    page.get_by_role("button", name="Open ports").click()
    expect(page.get_by_role("heading", name="Access request", exact=False)).to_be_visible()
    assert _page_width(page) <= page.viewport_size["width"]


def test_a_missing_page_is_styled_with_a_way_back_and_the_portal_has_a_favicon(page):
    sign_in_as(page, "Carol Chen")
    response = page.goto("/vms/00000000-0000-0000-0000-000000000000/rg-none/nothing/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.get_by_role("link", name="Virtual machines").last.click()
    expect(page.get_by_role("heading", name="Virtual machines")).to_be_visible()
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(icon).ok


@pytest.mark.parametrize("width", [1280, 390])
def test_the_audit_pages_fit_the_window_and_their_tables_scroll_in_their_own_box(page, subs, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_as(page, "Carol Chen")
    for url in ("/audit/", f"/audit/vm/{subs['prod']}/rg-web/web-01/"):
        page.goto(url)
        table = page.get_by_role("table")
        expect(table).to_contain_text("Correlation id")
        assert _page_width(page) <= width, url
        # Each moment of a window (the 12th column) stays on one line: a window reads in at most two.
        lines = page.locator("table.events tbody td:nth-child(12) time").evaluate_all(
            "moments => moments.map(m => m.getClientRects().length)"
        )
        assert lines and set(lines) == {1}, (url, lines)
