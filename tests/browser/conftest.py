"""Pages in Playwright driving the Debian Chromium at /usr/bin/chromium (the session's `browser` is in
tests/conftest.py: one per test session, shared with tests/cli)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect


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
