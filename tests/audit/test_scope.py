"""An auditor sees of the record only what Azure lets them read: Grace (Reader on rg-shared of Shared services,
not on rg-monitor) is not shown rg-monitor's changes in the trail, its CSV or the report, and is told so."""

from __future__ import annotations

import re

import pytest

from core.actor import PORTAL
from tests.audit.downloads import csv_download
from trail.chain import record

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def monitor_change(view) -> str:
    policy = (
        f"/subscriptions/{view.sub('Contoso Shared Services')}/resourceGroups/rg-monitor/providers/"
        "Microsoft.Security/locations/eastus/jitNetworkAccessPolicies/default"
    )
    record(PORTAL, "jit.edit", policy, "succeeded", details={"before": {}, "after": {}})
    return policy


def test_grace_is_not_shown_rg_monitors_changes_in_the_trail_and_is_told_so(signed_in, monitor_change):
    grace = signed_in("grace")
    page = grace.get("/audit/trail")
    assert monitor_change not in page.content.decode() and page.context["hidden"] == 1
    assert "1 event about resource groups outside your Azure read scope is not shown." in page.content.decode()
    data, rows, manifest = csv_download(grace, "/audit/trail.csv")
    assert monitor_change not in data.decode() and manifest["coverage"]["rows_hidden_by_read_scope"] == 1
    assert len(rows) == manifest["rows"]


def test_carol_reader_everywhere_sees_rg_monitors_changes(signed_in, monitor_change):
    page = signed_in("carol").get("/audit/trail")
    assert monitor_change in page.content.decode() and page.context["hidden"] == 0


def test_the_report_csvs_manifest_says_what_it_covers_and_what_could_not_be_read(signed_in):
    grace = signed_in("grace")
    data, rows, manifest = csv_download(grace, "/audit/report.csv")
    assert data.decode("utf-8-sig").startswith("Correlation id,Operation name,")
    assert (
        manifest["file"].startswith("jit-activity_") and "Contoso Production" in manifest["coverage"]["subscriptions"]
    )
    assert [u["subscription"] for u in manifest["coverage"]["not_read_from_azure"]] == ["Contoso Legacy Apps"]
    assert (
        re.fullmatch(r"\d+:[0-9a-f]{64}", manifest["checkpoint"]) and manifest["generated_by"] == "grace@contoso.test"
    )


def test_a_csv_says_which_filters_it_did_not_apply_and_leaves_no_warning_for_the_next_page(signed_in):
    carol = signed_in("carol")
    _, _, manifest = csv_download(carol, "/audit/report.csv", {"start": "2026-11-28", "end": "2020-01-01"})
    assert manifest["coverage"]["filters_not_applied"][0].startswith("Ignored ")
    assert manifest["asked"]["filters"] == {"start": "2026-11-28", "end": "2020-01-01"}
    assert not [m for m in carol.get("/vms/").context["messages"] if "Ignored" in str(m)]
    page = carol.get("/audit/", {"start": "2026-11-28", "end": "2020-01-01"})
    assert [str(m) for m in page.context["messages"] if "Ignored" in str(m)]


def test_a_download_filtered_to_rg_monitor_is_on_the_trail_only_for_those_who_read_rg_monitor(signed_in, sandbox, view):
    """What an auditor typed names resources: Grace is not shown Carol's download filtered to rg-monitor, nor her
    download of mon-01's activity, yet sees Carol's unfiltered one."""
    from django.test import Client

    from tests.conftest import PORTAL_HOST, sign_in
    from trail.models import AuditEvent

    carol = signed_in("carol")
    b"".join(carol.get("/audit/report.csv", {"resource_group": "rg-monitor"}).streaming_content)
    b"".join(carol.get("/audit/report.csv", {"vm": "mon-01"}).streaming_content)
    b"".join(carol.get("/audit/report.csv", {"resource_group": "rg-nobody-has"}).streaming_content)
    shared = view.sub("Contoso Shared Services")
    b"".join(carol.get(f"/audit/vm/{shared}/rg-monitor/mon-01/", {"format": "csv"}).streaming_content)
    b"".join(carol.get("/audit/report.csv").streaming_content)
    downloads = AuditEvent.objects.filter(action="csv.download").order_by("seq")
    assert [e.target.split(" about ")[-1].count("/resourceGroups/") for e in downloads] == [1, 1, 1, 1, 0]
    grace = Client(HTTP_HOST=PORTAL_HOST)
    sign_in(grace, sandbox, "grace")
    seen = [e for e in grace.get("/audit/trail", {"action": "csv.download"}).context["page"].object_list]
    assert [e.details["filters"] for e in seen if e.actor_name.startswith("carol@")] == [{}]
    text = b"".join(grace.get("/audit/trail.csv", {"action": "csv.download"}).streaming_content).decode("utf-8-sig")
    assert "rg-monitor" not in text and "mon-01" not in text and "rg-nobody-has" not in text
    assert (
        len(
            [
                e
                for e in carol.get("/audit/trail", {"action": "csv.download"}).context["page"].object_list
                if e.actor_name.startswith("carol@")
            ]
        )
        == 5 - 1
    )  # the download of nothing she can read: nobody's
