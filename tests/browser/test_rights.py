"""What may I do here? The portal asks Azure before it offers a form Azure would refuse."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_frank_reader_in_azure_is_told_before_he_fills_a_form(page):
    sign_in_as(page, "Frank Fischer")
    page.goto("/vms/?tab=configured&q=web-01")
    expect(page.get_by_role("link", name="Edit web-01")).to_have_count(0)
    expect(page.get_by_text("Azure gives you read-only access to rg-web").first).to_be_visible()

    page.goto("/vms/?tab=not-configured&q=build")
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("button", name="Enable with defaults")).to_have_count(0)

    page.get_by_role("link", name="build-01", exact=True).click()
    expect(page.get_by_text("Enable JIT: Azure gives you read-only access to rg-build.")).to_be_visible()
    expect(page.get_by_role("link", name="Enable JIT")).to_have_count(0)


def test_a_requester_without_initiate_is_told_before_the_form(page, sandbox):
    sandbox.control("POST", "people/carol/roles", {"roles": ["JIT.Requester"]})  # Reader in Azure
    sign_in_as(page, "Carol Chen")
    page.goto("/vms/?tab=configured&q=web-01")
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("link", name="Request access web-01")).to_have_count(0)
    expect(page.get_by_text("Request access: Azure gives you read-only access to rg-web.")).to_be_visible()


def test_an_admin_with_the_requester_role_too_can_request_and_configure(page, sandbox):
    sandbox.control("POST", "people/bob/roles", {"roles": ["JIT.Admin", "JIT.Requester"]})
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=configured&q=web-01")
    expect(page.get_by_role("link", name="Edit web-01")).to_be_visible()
    page.get_by_role("link", name="Request access web-01").click()
    expect(page.get_by_role("heading", name="Request access")).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile("web-01 port 22"))).to_be_visible()


def test_bob_enables_jit_from_a_not_configured_vms_own_page(page):
    sign_in_as(page, "Bob Brennan")
    page.goto("/vms/?tab=not-configured&q=build-03")
    page.get_by_role("link", name="build-03", exact=True).click()
    page.get_by_role("link", name="Enable with defaults").click()
    expect(page.get_by_role("heading", name="Enable JIT with defaults on 1 VM?")).to_be_visible()
    page.get_by_role("button", name="Enable JIT on 1 VM").click()
    expect(page.get_by_role("table")).to_contain_text("Done")
