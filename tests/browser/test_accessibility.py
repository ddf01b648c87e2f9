"""axe-core (bundled with axe-playwright-python: nothing is downloaded) on every page of every role, at a desktop
width (1280 px) and a phone's (390 px): 0 violations, scrollable-region-focusable included. Each person visits every
page, including those their roles refuse (the 403 page is a page too), and the sandbox's sign-in chooser; at 390 px
no page is wider than the window."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import enable_with_defaults, pick, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PEOPLE = [
    "Alice Archer",
    "Bob Brennan",
    "Carol Chen",
    "Frank Fischer",
    "Grace Green",
    "Dave Dunn",
    "Erin Evans",
    "Hana Hill",
]
WIDTHS = (1280, 390)
AXE = Axe()


# The page as axe would see it, less what changes between two loads of the same page (its CSRF tokens).
SAME_PAGE = """document.body.innerHTML.replace(/name="csrfmiddlewaretoken" value="[^"]*"/g, "")"""


def violations(page, seen: set[str] | None = None) -> list[str]:
    """axe's findings at each width, and at phone width a page wider than the window (a sideways scroll). A page
    whose markup is in `seen` was checked already (a person's roles refuse many pages with the same 403 page)."""
    if seen is not None:
        markup = page.evaluate(SAME_PAGE)
        if markup in seen:
            return []
        seen.add(markup)
    found = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        found += [
            f"{page.url} at {width} px: {v['id']} ({v['impact']}): {v['help']} at "
            f"{[n['target'] for n in v['nodes']][:3]}"
            for v in AXE.run(page).response["violations"]
        ]
    wide = page.evaluate("document.documentElement.scrollWidth")
    return found + ([f"{page.url} is {wide} px wide at 390 px"] if wide > 390 else [])


def _pages(subs: dict[str, str]) -> list[str]:
    vm = f"/vms/{subs['prod']}/rg-web/web-01/"
    build = f"/subscriptions/{subs['dev']}/resourceGroups/rg-build/providers/Microsoft.Compute/virtualMachines/build-01"
    web02 = f"/subscriptions/{subs['prod']}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-02"
    return [
        "/",
        "/vms/?tab=configured",
        "/vms/?tab=not-configured",
        "/vms/?tab=unsupported",
        "/vms/?q=xyz",
        vm,
        f"/vms/{subs['dev']}/rg-build/build-01/",
        f"/access/new?vm={web02}",
        "/access/",
        f"/vms/enable?vm={build}",
        f"/vms/enable/defaults?vm={build}",
        f"{vm}jit/edit",
        f"{vm}jit/remove",
        "/audit/",
        f"/audit/vm/{subs['prod']}/rg-web/web-01/",
        "/audit/trail",
        "/access/approvals/",
        "/access/rules/",
        "/access/rules/new",
        "/vms/no/such/page/",
        "/audit/health",
        "/audit/exposures",
        f"/vms/{subs['prod']}/rg-sql/sql-02/",
        f"/vms/{subs['prod']}/rg-sql/sql-02/health/restore",
        f"/vms/{subs['dev']}/rg-dev/dev-02/",
    ]


@pytest.mark.parametrize("person", PEOPLE)
def test_every_page_has_no_axe_violations_at_both_widths(page, subs, person):
    page.goto("/")
    found = violations(page)  # the sandbox's account chooser
    page.get_by_role("button", name=person).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    seen: set[str] = set()
    found += violations(page, seen)
    for url in _pages(subs):
        page.goto(url)
        found += violations(page, seen)
    assert found == []


def test_axe_reports_what_it_finds(page):
    sign_in_as(page, "Carol Chen")
    page.evaluate(
        "document.querySelector('main').append(Object.assign(document.createElement('img'), {src: '/x.png'}))"
    )
    assert any("image-alt" in v for v in violations(page))


def test_a_page_wider_than_a_phone_is_reported(page):
    sign_in_as(page, "Carol Chen")
    page.evaluate(
        "document.querySelector('main').append(Object.assign(document.createElement('div'), "
        "{style: 'width: 900px; height: 1px'}))"
    )
    assert any("900 px wide" in v or "px wide at 390 px" in v for v in violations(page))


def test_result_pages_have_no_axe_violations(page):
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02"], "Request access", query="web-02")
    page.get_by_label("Why do you need access?").fill("Checking the logs")
    page.get_by_role("button", name="Open ports").click()
    expect(page.get_by_role("heading", name="Access request", exact=False)).to_be_visible()
    found = violations(page)
    page.goto("/access/")
    found += violations(page)
    page.get_by_role("link", name="Extend", exact=False).first.click()
    found += violations(page)

    page.get_by_role("button", name="Sign out").click()
    found += violations(page)  # signed out
    sign_in_as(page, "Bob Brennan")
    enable_with_defaults(page, "build-01")
    expect(page.get_by_role("table")).to_contain_text("Done")
    assert found + violations(page) == []


def test_at_phone_width_what_a_person_needs_is_on_screen(page):
    """My access' Connect column and the Enable form's port fields, within 390 px without scrolling sideways."""
    page.set_viewport_size({"width": 390, "height": 900})
    sign_in_as(page, "Alice Archer")
    pick(page, "configured", ["web-02"], "Request access", query="web-02")
    page.get_by_label("Why do you need access?").fill("Checking the logs")
    page.get_by_role("button", name="Open ports").click()
    expect(page.get_by_role("heading", name="Access request", exact=False)).to_be_visible()
    page.goto("/access/")
    command = page.locator("table.open-now code").first
    expect(command).to_contain_text("ssh ")
    box = command.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box

    page.get_by_role("button", name="Sign out").click()
    sign_in_as(page, "Bob Brennan")
    pick(page, "not-configured", ["build-01"], "Enable JIT on VMs", query="build-01")
    for label in (
        "Port, port row 1",
        "Maximum request time, port row 1",
        "Remove, port row 1",
        "IPs or CIDRs, port row 3",
    ):
        box = page.get_by_label(label).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (label, box)


def test_the_api_reference_page_has_no_axe_violations_at_both_widths(page):
    """/api/v1/docs, the API's reference (Swagger UI failed axe on colour contrast, nested buttons, heading order)."""
    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", name="POST /api/v1/items/{pk}/end")).to_be_visible()
    found = violations(page)
    page.get_by_role("link", name="RequestIn").first.click()  # a body's schema, one link away
    expect(page.get_by_role("heading", name="RequestIn", exact=True)).to_be_in_viewport()
    assert found == []


def test_the_pages_of_the_leftovers_have_no_axe_violations_at_both_widths(page, sandbox):
    """Pages that answer a POST (#22, #23): the restore page naming the rule to re-create, Edit's question before it
    removes a port; and My access and Open now in your scope with an End for a window opened outside the portal."""
    sandbox.control("POST", "nsgs/redeploy", {"nsg": "nsg-rg-web-default", "reconcile": True})
    sign_in_as(page, "Bob Brennan")
    found = []
    page.goto("/vms/?tab=configured&q=web-02")
    page.get_by_role("link", name="web-02", exact=True).click()
    page.get_by_role("link", name="Restore JIT's rules").click()
    page.get_by_role("button", name="Restore JIT's rules").click()
    expect(page.get_by_role("heading", name="The rule to re-create")).to_be_visible()
    found += violations(page)
    page.goto("/vms/?tab=configured&q=web-03")
    page.get_by_role("link", name="Edit web-03").click()
    page.get_by_label("Remove, port row 2").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("button", name="Remove port 3389 and save")).to_be_visible()
    found += violations(page)
    page.goto("/access/approvals/")
    expect(page.get_by_role("button", name="End web-01 port 22 of alice@contoso.test now")).to_be_visible()
    found += violations(page)
    assert found == []
