"""Playwright driving the Debian Chromium at /usr/bin/chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# Playwright's sync API runs an event loop in this thread; Django's ORM refuses that unless told.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip("SKIPPED LOUDLY: " + message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, sandbox, live_server):
    # The sandbox's certificate comes from its own CA, which this throwaway profile does not trust.
    context = browser.new_context(ignore_https_errors=True, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in_as(page, name: str) -> None:
    """Open the portal and pick `name` in the sandbox's account chooser."""
    page.goto("/")
    page.get_by_role("button", name=name).click()
    expect(page.get_by_role("heading", name=re.compile("^Hello"))).to_be_visible()


def pick(page, tab: str, vms: list[str], button: str, query: str = "") -> None:
    """On a VM tab (narrowed by `query`), tick `vms`, then press `button` (Request access, Enable with defaults…)."""
    page.goto(f"/vms/?tab={tab}" + (f"&q={query}" if query else ""))
    for vm in vms:
        page.get_by_role("checkbox", name=f"Select {vm}").check()
    page.get_by_role("button", name=button).click()


def enable_with_defaults(page, vm: str) -> None:
    """An admin enables JIT with the defaults on one VM of the Not configured tab, confirming once."""
    pick(page, "not-configured", [vm], "Enable with defaults", query=vm)
    page.get_by_role("button", name="Enable JIT on 1 VM").click()
