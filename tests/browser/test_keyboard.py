"""Keyboard only: a person requests access and an admin enables JIT without a mouse, and always sees where
the focus is."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]

MOST_TABS = 80


def tab_to(page, target) -> None:
    """Press Tab until `target` has the focus, checking at each stop that the focus can be seen."""
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        # One read of document.activeElement: a locator for ":focus" can match before a page change and then
        # wait for an element the new page never focuses.
        focus = page.evaluate("""() => { const e = document.activeElement;
            if (!e || e === document.body) return null;
            const s = getComputedStyle(e);
            return {seen: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0, html: e.outerHTML.slice(0, 120)} }""")
        if focus:
            assert focus["seen"], f"no visible focus on {focus['html']}"
        if target.evaluate("e => e === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def sign_in_by_keyboard(page, name: str) -> None:
    page.goto("/")
    tab_to(page, page.get_by_role("button", name=name))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("^Hello"))).to_be_visible()


def test_alice_requests_access_with_the_keyboard_alone(page):
    sign_in_by_keyboard(page, "Alice Archer")
    page.goto("/vms/?tab=configured&q=web-02")
    tab_to(page, page.get_by_role("checkbox", name="Select web-02"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Request access"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Request access")).to_be_visible()
    tab_to(page, page.get_by_label("Why do you need access?"))
    page.keyboard.type("Reading the deploy logs")
    tab_to(page, page.get_by_role("button", name="Open ports"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("^Access request"))).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("Open until")


def test_bob_enables_jit_with_the_keyboard_alone(page):
    sign_in_by_keyboard(page, "Bob Brennan")
    page.goto("/vms/?tab=not-configured&q=build-04")
    tab_to(page, page.get_by_role("checkbox", name="Select build-04"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Enable with defaults"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("^Enable JIT with defaults"))).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Enable JIT on 1 VM"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("table")).to_contain_text("Done")
