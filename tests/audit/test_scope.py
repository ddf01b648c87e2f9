"""An auditor sees of the record only what Azure lets them read: Grace (Reader on rg-shared of Shared services,
not on rg-monitor) is not shown rg-monitor's changes in the trail, its CSV or the report, and is told so."""

from __future__ import annotations

import csv
import io

import pytest

from audit.trail import record
from jitportal.actor import PORTAL

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def monitor_change(view) -> str:
    policy = (f"/subscriptions/{view.sub('Contoso Shared Services')}/resourceGroups/rg-monitor/providers/"
              "Microsoft.Security/locations/eastus/jitNetworkAccessPolicies/default")
    record(PORTAL, "jit.edit", policy, "succeeded", details={"before": {}, "after": {}})
    return policy


def test_grace_is_not_shown_rg_monitors_changes_in_the_trail_and_is_told_so(signed_in, monitor_change):
    grace = signed_in("grace")
    page = grace.get("/audit/trail")
    assert monitor_change not in page.content.decode() and page.context["hidden"] == 1
    assert "1 event about resource groups outside your Azure read scope is not shown." in page.content.decode()
    text = b"".join(grace.get("/audit/trail.csv").streaming_content).decode("utf-8-sig")
    assert monitor_change not in text and "Rows hidden by your Azure read scope: 1." in text.splitlines()[0]


def test_carol_reader_everywhere_sees_rg_monitors_changes(signed_in, monitor_change):
    page = signed_in("carol").get("/audit/trail")
    assert monitor_change in page.content.decode() and page.context["hidden"] == 0


def test_the_report_csv_says_what_it_covers_and_what_could_not_be_read(signed_in):
    grace = signed_in("grace")
    text = b"".join(grace.get("/audit/report.csv").streaming_content).decode("utf-8-sig")
    first = next(csv.reader(io.StringIO(text)))[0]
    assert first.startswith("Coverage of jit-activity_") and "Contoso Production" in first
    assert "Not read from Azure for this file: Contoso Legacy Apps (" in first and "Audit trail checkpoint: " in first


def test_a_csv_says_which_filters_it_did_not_apply_and_leaves_no_warning_for_the_next_page(signed_in):
    carol = signed_in("carol")
    text = b"".join(carol.get("/audit/report.csv", {"start": "2026-11-28", "end": "2020-01-01"})
                    .streaming_content).decode("utf-8-sig")
    first = next(csv.reader(io.StringIO(text)))[0]
    assert "Filters not applied: Ignored " in first
    assert not [m for m in carol.get("/vms/").context["messages"] if "Ignored" in str(m)]
    page = carol.get("/audit/", {"start": "2026-11-28", "end": "2020-01-01"})
    assert [str(m) for m in page.context["messages"] if "Ignored" in str(m)]
