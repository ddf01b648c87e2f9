"""axe-core (bundled with axe-playwright-python: nothing is downloaded) on every page of every role: 0 violations.
Each person visits every page, including those their roles refuse (the 403 page is a page too)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import enable_with_defaults, pick, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PEOPLE = ["Alice Archer", "Bob Brennan", "Carol Chen", "Frank Fischer", "Grace Green", "Dave Dunn", "Erin Evans"]
AXE = Axe()


def violations(page) -> list[str]:
    found = AXE.run(page).response["violations"]
    return [f"{page.url}: {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in found]


def _pages(subs: dict[str, str]) -> list[str]:
    vm = f"/vms/{subs['prod']}/rg-web/web-01/"
    build = f"/subscriptions/{subs['dev']}/resourceGroups/rg-build/providers/Microsoft.Compute/virtualMachines/build-01"
    web02 = f"/subscriptions/{subs['prod']}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-02"
    return ["/", "/vms/?tab=configured", "/vms/?tab=not-configured", "/vms/?tab=unsupported", "/vms/?q=xyz", vm,
            f"/vms/{subs['dev']}/rg-build/build-01/", f"/access/new?vm={web02}", "/access/",
            f"/vms/enable?vm={build}", f"/vms/enable/defaults?vm={build}", f"{vm}jit/edit", f"{vm}jit/remove",
            "/audit/", f"/audit/vm/{subs['prod']}/rg-web/web-01/", "/audit/trail", "/vms/no/such/page/",
            "/audit/health", "/audit/exposures", f"/vms/{subs['prod']}/rg-sql/sql-02/", f"/vms/{subs['prod']}/rg-sql/sql-02/health/restore",
            f"/vms/{subs['dev']}/rg-dev/dev-02/"]


@pytest.mark.parametrize("person", PEOPLE)
def test_every_page_has_no_axe_violations(page, subs, person):
    page.goto("/")
    page.get_by_role("button", name=person).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    found = violations(page)
    for url in _pages(subs):
        page.goto(url)
        found += violations(page)
    assert found == []


def test_axe_reports_what_it_finds(page):
    sign_in_as(page, "Carol Chen")
    page.evaluate("document.querySelector('main').append(Object.assign(document.createElement('img'), {src: '/x.png'}))")
    assert any("image-alt" in v for v in violations(page))


def test_result_pages_have_no_axe_violations(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02"], "Request access", query="web-02")
    page.get_by_label("Why do you need access?").fill("Checking the logs")
    page.get_by_role("button", name="Open ports").click()
    expect(page.get_by_role("heading", name="Access request", exact=False)).to_be_visible()
    found = violations(page)
    page.goto("/access/")
    found += violations(page)

    page.get_by_role("button", name="Sign out").click()
    sign_in_as(page, "Bob Brennan")
    enable_with_defaults(page, "build-01")
    expect(page.get_by_role("table")).to_contain_text("Done")
    assert found + violations(page) == []
