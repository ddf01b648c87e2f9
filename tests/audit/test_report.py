"""Auditors see Azure's JIT operations joined with the portal's records, on screen and as CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import fill, sign_in, submit
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def csv_rows(response) -> list[dict]:
    """The rows under the header, which is the first line."""
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = io.StringIO(text)
    assert next(csv.reader(lines))[:2] == ["Correlation id", "Operation name"]
    lines.seek(0)
    return list(csv.DictReader(lines))


@pytest.fixture
def history(portal, sandbox, view):
    """Bob enables JIT on build-01 and Alice requests access to it, both through the portal."""
    sub = view.sub("Contoso Development")
    target = f"/subscriptions/{sub}/resourceGroups/rg-build/providers/Microsoft.Compute/virtualMachines/build-01"
    sign_in(portal, sandbox, "bob")
    assert portal.post("/vms/enable/defaults", {"vm": [target]}, follow=True).context["outcomes"][0].ok
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "alice")
    assert submit(portal, fill(portal, [target], justification='=HYPERLINK("http://x")')).status_code == 302
    portal.post("/accounts/sign-out")
    return sub


def test_carol_sees_the_enable_and_the_request_with_the_justification_joined(portal, sandbox, history):
    sign_in(portal, sandbox, "carol")
    report = portal.get("/audit/", {"resource_group": "rg-build"})
    assert report.status_code == 200 and not report.context["unread"]
    rows = list(report.context["rows"])
    assert [(r.event.operation_name, r.event.caller) for r in rows] == [
        ("Initiate JIT Network Access Policy", "alice@contoso.test"),
        ("Create or Update JIT Network Access Policy", "bob@contoso.test"),
    ]
    assert (rows[0].vms, rows[0].ports, rows[0].source, rows[0].joined_from) == (
        "build-01",
        "build-01:22",
        "203.0.113.50",
        "portal",
    )
    assert rows[0].justification == '=HYPERLINK("http://x")'

    vm_page = portal.get(f"/audit/vm/{history}/rg-build/build-01/")
    assert [r.event.caller for r in vm_page.context["rows"]] == ["alice@contoso.test", "bob@contoso.test"]

    lines = csv_rows(portal.get("/audit/report.csv", {"resource_group": "rg-build"}))
    assert [(line["Operation name"], line["Event initiated by"], line["VM"]) for line in lines] == [
        ("Initiate JIT Network Access Policy", "alice@contoso.test", "build-01"),
        ("Create or Update JIT Network Access Policy", "bob@contoso.test", "build-01"),
    ]
    assert (
        lines[1]["Change"] == "enabled on build-01: 22, 3389, 5985, 5986 (Any, ≤ 3 h)"
        and lines[1]["Explained by"] == "portal"
    )
    assert lines[0]["Justification"] == '\'=HYPERLINK("http://x")'  # neutralised for spreadsheets
    assert lines[0]["Correlation id"] == rows[0].event.correlation_id and lines[0]["Time"].endswith("Z")
    assert list(lines[0])[:11] == [
        "Correlation id",
        "Operation name",
        "Status",
        "Event category",
        "Level",
        "Time",
        "Subscription",
        "Event initiated by",
        "Resource type",
        "Resource group",
        "Resource",
    ]
    vm_csv = portal.get(f"/audit/vm/{history}/rg-build/build-01/", {"format": "csv"})
    assert 'filename="jit-activity_build-01_' in vm_csv["Content-Disposition"]
    assert AuditEvent.objects.filter(action="csv.download", actor__upn="carol@contoso.test").count() == 2


def test_the_seeded_history_is_joined_from_azures_policy_requests(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    rows = portal.get("/audit/", {"vm": "sql-01", "operation": "initiate"}).context["rows"]
    assert [(r.vms, r.justification, r.joined_from) for r in rows] == [
        ("sql-01", "Index maintenance", "Azure request history")
    ]


def test_filters_narrow_by_person_operation_and_range(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    bob_writes = portal.get("/audit/", {"person": "bob", "operation": "write", "start": "2024-01-01"})
    assert "The archive keeps JIT history for 400 days" in bob_writes.content.decode()
    month = portal.get("/audit/", {"person": "bob", "operation": "write"})
    assert month.context["count"] == 0  # the policies were written 20 days ago, outside the default 7 days
    from django.utils import timezone

    start = (timezone.now() - timezone.timedelta(days=30)).date().isoformat()
    wider = portal.get("/audit/", {"person": "bob", "operation": "write", "start": start})
    assert wider.context["count"] == 4 and all(r.event.caller == "bob@contoso.test" for r in wider.context["rows"])


@pytest.mark.parametrize(
    "query, message",
    [
        ("start=not-a-date", "Ignored From: Enter a valid date."),
        ("start=2026-12-31&end=2026-01-01", "From must not be after To."),
        ("operation=drop-tables", "Ignored Operation: Select a valid choice."),
        ("subscription=" + "x" * 500, "Ignored Subscription: Ensure this value has at most 36 characters"),
        ("page=999999", None),
    ],
)
def test_bad_filters_give_a_message_never_a_500(portal, sandbox, query, message):
    sign_in(portal, sandbox, "carol")
    page = portal.get("/audit/?" + query)
    assert page.status_code == 200 and page.context["count"] > 0  # the defaults still report
    if message:
        assert message in page.content.decode()


def test_an_auditor_without_read_on_a_subscription_gets_a_banner_and_the_rest(portal, sandbox):
    sign_in(portal, sandbox, "grace")
    report = portal.get("/audit/")
    assert [name for name, _ in report.context["unread"]] == ["Contoso Legacy Apps"]
    assert "Contoso Legacy Apps</strong> could not be read" in report.content.decode()
    assert report.context["count"] > 0


@pytest.mark.parametrize("query", ["start=&end=0001-01-01", "end=0001-01-01", "start=0001-01-01&end=0001-01-02"])
def test_a_date_near_year_one_is_refused_in_words_on_every_audit_view(portal, sandbox, view, query):
    sign_in(portal, sandbox, "carol")
    vm_page = f"/audit/vm/{view.sub('Contoso Production')}/rg-sql/sql-01/"
    for url in ("/audit/", "/audit/report.csv", vm_page, vm_page + "?format=csv"):
        page = portal.get(url + ("&" if "?" in url else "?") + query)
        assert page.status_code == 200, (url, page.status_code)
    assert "The archive keeps JIT history for 400 days" in portal.get("/audit/?" + query).content.decode()


def test_after_jit_is_removed_from_web_02_its_history_stays_in_the_report_and_on_its_page(
    portal, sandbox, view, token_for, settings
):
    settings.AUDIT_COLLECT_SECONDS = 0  # every read collects: the removal made outside the portal, seconds later
    sub = view.sub("Contoso Production")
    sign_in(portal, sandbox, "carol")
    since = {"start": (timezone.now() - timedelta(days=3)).date().isoformat()}
    portal.get("/audit/", since)  # Carol's read archives the history while the policy still holds web-02
    policy = f"{sandbox.base_url}/subscriptions/{sub}/resourceGroups/rg-web/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default"
    removed = sandbox.http().delete(
        policy,
        params={"api-version": "2020-01-01"},
        headers={
            "Authorization": f"Bearer {token_for('bob')}",
            "x-ms-correlation-request-id": "c0ffee00-0000-4000-8000-00000000de1e",
        },
    )
    assert removed.status_code == 200  # outside the portal: Bob in Azure's own tools
    rows = portal.get("/audit/", {"vm": "web-02", **since}).context["rows"]
    assert [
        (r.event.operation.rsplit("/", 1)[-1], r.vms, r.change or r.ports, r.source, r.justification) for r in rows
    ] == [
        (
            "delete",
            "web-01, web-02, web-03, web-04",
            "removed from web-01; removed from web-02; removed from web-03; "
            "removed from web-04 (changed outside the portal)",
            "",
            "",
        ),
        ("action", "web-02", "web-02:22", "203.0.113.7", "Investigating disk alert"),
    ]
    page = portal.get(f"/audit/vm/{sub}/rg-web/web-02/", since).context["rows"]
    assert [r.event.event_id for r in page] == [r.event.event_id for r in rows]


def test_the_report_shows_moments_as_every_page_does_and_the_csv_keeps_iso(portal, sandbox, history):
    sign_in(portal, sandbox, "carol")
    page = portal.get("/audit/", {"resource_group": "rg-build"}).content.decode()
    request_row = next(row for row in page.split("<tr>") if "Initiate JIT Network Access Policy" in row)
    window = re.findall(r'<time datetime="([^"]+)" class="local">', request_row)
    assert len(window) == 3  # the event's time, and the window's start and end
    csv_line = next(
        r
        for r in csv_rows(portal.get("/audit/report.csv", {"resource_group": "rg-build"}))
        if r["Operation name"] == "Initiate JIT Network Access Policy"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", csv_line["Request window"])
