"""Carol filters the fleet report to one VM and one week and downloads the CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
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
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert {r["VM"] for r in rows} == {"web-01"} and len(rows) == 2
    assert {r["Justification"] for r in rows} == {"Deploying hotfix 4.2.1", "Kernel patching"}
