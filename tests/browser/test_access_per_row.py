"""In a real browser, at desktop and phone width: Alice ends one row of My access, extends another, then ends
all that is left after a page that asks first; what Azure has open for her outside the portal stays, marked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import pick, sign_in_as
from tests.browser.test_accessibility import violations

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/access"))


def _shot(page, name: str, width: int) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_alice_ends_one_row_extends_another_and_ends_all_after_being_asked(page, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["dev-01", "dev-02", "dev-03"], "Request access", query="dev-0")
    page.get_by_label("For", exact=True).fill("1")
    page.get_by_label("Why do you need access?").fill("rolling the build agents")
    page.get_by_role("button", name="Open ports").click()
    expect(page.locator(".state")).to_have_text("Open now")

    page.get_by_role("link", name="My access", exact=True).click()
    table = page.locator("table.open-now")
    expect(table.locator("tr.outside")).to_contain_text("web-01")
    expect(table.locator("tr.outside")).to_contain_text("opened outside the portal")
    expect(page.get_by_role("link", name="End all 3")).to_be_visible()
    _shot(page, "my-access", width)
    found = violations(page)
    page.get_by_role("button", name="End dev-02 port 3389 now").click()
    expect(page.get_by_role("status").first).to_contain_text("Ended dev-02 port 3389")
    expect(page.get_by_role("button", name="End dev-02 port 3389 now")).to_have_count(0)
    expect(page.get_by_role("button", name="End dev-01 port 22 now")).to_be_visible()
    expect(page.get_by_role("button", name="End dev-03 port 22 now")).to_be_visible()

    page.get_by_role("link", name="Extend dev-01 port 22").click()
    expect(page.get_by_role("main").get_by_role("listitem")).to_have_count(1)
    expect(page.get_by_role("main").get_by_role("listitem")).to_contain_text("dev-01 port 22")
    found += violations(page)
    page.get_by_label("Open for (from now)").fill("2")
    page.get_by_role("combobox", name="Unit").select_option("hours")
    page.get_by_role("button", name="Extend").click()
    expect(page.get_by_text("Extends")).to_be_visible()

    page.get_by_role("link", name="My access", exact=True).click()
    expect(page.get_by_role("timer").first).to_have_text(re.compile(r"^(59|60) min"))  # dev-03, then dev-01's 2 h
    page.get_by_role("link", name="End all 2").click()
    expect(page.get_by_role("heading", name="End all 2?")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("listitem")).to_have_count(2)
    _shot(page, "end-all", width)
    found += violations(page)
    page.get_by_role("link", name="Keep them open").click()
    expect(page.get_by_role("button", name="End dev-03 port 22 now")).to_be_visible()  # nothing ended
    page.get_by_role("link", name="End all 2").click()
    page.get_by_role("button", name="End these 2 now").click()
    expect(page.get_by_role("status").first).to_contain_text("Ended")
    expect(page.get_by_role("button", name=re.compile("^End dev-"))).to_have_count(0)
    expect(page.locator("table.open-now tr.outside")).to_contain_text("web-01")
    _shot(page, "my-access-after", width)
    assert found == []
