"""The auditor's flows in a browser: Carol filters the report and downloads the CSV (its first line says what
it covers); Grace is told that her Azure read scope hides rows; a removed VM's history stays."""

from __future__ import annotations

import csv
import html
from datetime import date, timedelta

import pytest
from azure.mgmt.security.v2020_01_01 import models as jit
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_carol_filters_to_one_vm_and_week_and_downloads_csv(page):
    sign_in_as(page, "Carol Chen")
    page.get_by_role("link", name="Audit").first.click()
    expect(page.get_by_role("heading", name="JIT activity across the fleet")).to_be_visible()
    today = date.today()
    page.get_by_label("From", exact=True).fill((today - timedelta(days=6)).isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    page.get_by_label("VM", exact=True).fill("web-01")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("Deploying hotfix 4.2.1")
    expect(table).to_contain_text("Kernel patching")
    expect(table).not_to_contain_text("sql-01")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename == f"jit-activity_{today - timedelta(days=6)}_to_{today}.csv"
    with open(download.path(), newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))  # the header is line 1
    assert {r["VM"] for r in rows} == {"web-01"} and len(rows) == 2
    assert {r["Justification"] for r in rows} == {"Deploying hotfix 4.2.1", "Kernel patching"}
    # A preview as a browser renders the file as text: its first line is the header.
    text = open(download.path(), encoding="utf-8-sig").read()
    page.set_content(f"<pre>{html.escape(text)}</pre>")
    assert page.locator("pre").inner_text().splitlines()[0].startswith("Correlation id,Operation name,Status,")


def _report_since(page, days: int) -> None:
    page.goto("/audit/")
    page.get_by_label("From", exact=True).fill((date.today() - timedelta(days=days)).isoformat())
    page.get_by_role("button", name="Filter").click()


def test_graces_report_says_rows_are_hidden_by_her_azure_read_scope(page, view):
    monitor = view.clients.security(view.sub("Contoso Shared Services"))
    mon_01 = view.vm_id("Contoso Shared Services", "rg-monitor", "mon-01")
    monitor.jit_network_access_policies.create_or_update(
        "rg-monitor",
        "eastus",
        "default",
        jit.JitNetworkAccessPolicy(
            kind="Basic",
            virtual_machines=[
                jit.JitNetworkAccessPolicyVirtualMachine(
                    id=mon_01,
                    ports=[
                        jit.JitNetworkAccessPortRule(
                            number=22,
                            protocol="*",
                            allowed_source_address_prefix="*",
                            max_request_access_duration="PT3H",
                        )
                    ],
                )
            ],
        ),
    )
    sign_in_as(page, "Carol Chen")
    _report_since(page, 1)  # Carol, who reads everything, archives the change in rg-monitor
    expect(page.get_by_role("table")).to_contain_text("enabled on mon-01: 22 (Any, ≤ 3 h)")
    page.get_by_role("button", name="Sign out").click()

    sign_in_as(page, "Grace Green")
    _report_since(page, 1)
    expect(page.get_by_role("status")).to_contain_text(
        "1 event about resource groups outside your Azure read scope is not shown."
    )
    expect(page.locator("main")).not_to_contain_text("mon-01")


def test_carols_report_after_a_removal_still_shows_the_removed_vms_history_and_its_csv_says_its_coverage(
    page, view, settings
):
    settings.AUDIT_COLLECT_SECONDS = 0  # every view collects: the removal made outside the portal, seconds later
    sign_in_as(page, "Carol Chen")
    _report_since(page, 3)  # the archive holds web-02's history while the policy still exists
    view.clients.security(view.sub("Contoso Production")).jit_network_access_policies.delete(
        "rg-web", "westeurope", "default"
    )
    page.get_by_label("VM", exact=True).fill("web-02")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("Investigating disk alert")
    expect(table).to_contain_text("removed from web-02")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    coverage = page.locator(".coverage")
    expect(coverage).to_contain_text("Contoso Production")
    expect(coverage).to_contain_text("Not read from Azure just now: none.")
    expect(coverage).to_contain_text("Rows hidden by your Azure read scope: 0.")
    with open(info.value.path(), newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    assert [r["Justification"] or r["Change"] for r in rows] == [
        "removed from web-01; removed from web-02; removed from web-03; removed from web-04 "
        "(changed outside the portal)",
        "Investigating disk alert",
    ]
