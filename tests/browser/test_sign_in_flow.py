"""A person signs in by clicking in the account chooser, sees the home page, and signs out."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_alice_signs_in_from_the_chooser_sees_her_subscriptions_and_signs_out(page):
    page.goto("/")
    expect(page.get_by_role("heading", name="Pick an account")).to_be_visible()
    page.get_by_role("button", name="Alice Archer").click()
    expect(page.get_by_role("heading", name="Hello, Alice Archer")).to_be_visible()
    subscriptions = page.get_by_role("table")
    expect(subscriptions).to_contain_text("Contoso Production")
    expect(subscriptions).to_contain_text("Contoso Development")
    expect(subscriptions).not_to_contain_text("Contoso Legacy Apps")
    expect(page.get_by_role("link", name="My access").first).to_be_visible()
    expect(page.get_by_role("link", name="Audit")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Pick an account")).to_be_visible()


def test_a_person_who_cancels_in_the_chooser_is_offered_to_try_again(page):
    page.goto("/vms/")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alert")).to_contain_text("declined to consent")
    page.get_by_role("link", name="Try again").click()
    page.get_by_role("button", name="Carol Chen").click()
    expect(page.get_by_role("heading", name="Virtual machines")).to_be_visible()
