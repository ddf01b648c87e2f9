"""Auditors see Azure's JIT operations joined with the portal's records, on screen and as CSV."""

from __future__ import annotations

import csv
import io

import pytest

from audit.models import AuditEvent
from tests.conftest import fill, sign_in, submit

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def history(portal, sandbox, view):
    """Bob enables JIT on build-01 and Alice requests access to it, both through the portal."""
    sub = view.sub("Contoso Development")
    target = f"/subscriptions/{sub}/resourceGroups/rg-build/providers/Microsoft.Compute/virtualMachines/build-01"
    sign_in(portal, sandbox, "bob")
    assert portal.post("/vms/enable/defaults", {"vm": [target]}).context["outcomes"][0].ok
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "alice")
    assert submit(portal, fill(portal, [target], justification='=HYPERLINK("http://x")')).status_code == 302
    portal.post("/accounts/sign-out")
    return sub


def test_carol_sees_the_enable_and_the_request_with_the_justification_joined(portal, sandbox, history):
    sign_in(portal, sandbox, "carol")
    report = portal.get("/audit/", {"resource_group": "rg-build"})
    assert report.status_code == 200 and not report.context["failures"]
    rows = list(report.context["page"].object_list)
    assert [(r.event.operation_name, r.event.caller) for r in rows] == [
        ("Initiate JIT Network Access Policy", "alice@contoso.test"),
        ("Create or Update JIT Network Access Policy", "bob@contoso.test")]
    assert (rows[0].vms, rows[0].ports, rows[0].source, rows[0].joined_from) == ("build-01", "22",
                                                                                  "203.0.113.50", "portal")
    assert rows[0].justification == '=HYPERLINK("http://x")'

    vm_page = portal.get(f"/audit/vm/{history}/rg-build/build-01/")
    assert [r.event.caller for r in vm_page.context["page"].object_list] == ["alice@contoso.test", "bob@contoso.test"]

    lines = csv_rows(portal.get("/audit/report.csv", {"resource_group": "rg-build"}))
    assert [(line["Operation name"], line["Event initiated by"], line["VM"]) for line in lines] == [
        ("Initiate JIT Network Access Policy", "alice@contoso.test", "build-01"),
        ("Create or Update JIT Network Access Policy", "bob@contoso.test", "")]
    assert lines[0]["Justification"] == "'=HYPERLINK(\"http://x\")"  # neutralised for spreadsheets
    assert lines[0]["Correlation id"] == rows[0].event.correlation_id and lines[0]["Time"].endswith("Z")
    assert list(lines[0])[:11] == ["Correlation id", "Operation name", "Status", "Event category", "Level", "Time",
                                   "Subscription", "Event initiated by", "Resource type", "Resource group", "Resource"]
    vm_csv = portal.get(f"/audit/vm/{history}/rg-build/build-01/", {"format": "csv"})
    assert 'filename="jit-activity_build-01_' in vm_csv["Content-Disposition"]
    assert AuditEvent.objects.filter(action="csv.download", actor__upn="carol@contoso.test").count() == 2


def test_the_seeded_history_is_joined_from_azures_policy_requests(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    rows = portal.get("/audit/", {"vm": "sql-01", "operation": "initiate"}).context["page"].object_list
    assert [(r.vms, r.justification, r.joined_from) for r in rows] == [
        ("sql-01", "Index maintenance", "Azure policy history")]


def test_filters_narrow_by_person_operation_and_range(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    bob_writes = portal.get("/audit/", {"person": "bob", "operation": "write", "start": "2026-01-01"})
    assert "Azure keeps the Activity Log for 90 days" in bob_writes.content.decode()
    month = portal.get("/audit/", {"person": "bob", "operation": "write"})
    assert month.context["count"] == 0  # the policies were written 20 days ago, outside the default 7 days
    from django.utils import timezone
    start = (timezone.now() - timezone.timedelta(days=30)).date().isoformat()
    wider = portal.get("/audit/", {"person": "bob", "operation": "write", "start": start})
    assert wider.context["count"] == 4 and all(r.event.caller == "bob@contoso.test"
                                               for r in wider.context["page"].object_list)


@pytest.mark.parametrize("query, message", [
    ("start=not-a-date", "Ignored From: Enter a valid date."),
    ("start=2026-12-31&end=2026-01-01", "From must not be after To."),
    ("operation=drop-tables", "Ignored Operation: Select a valid choice."),
    ("subscription=" + "x" * 500, "Ignored Subscription: Ensure this value has at most 36 characters"),
    ("page=999999", None),
])
def test_bad_filters_give_a_message_never_a_500(portal, sandbox, query, message):
    sign_in(portal, sandbox, "carol")
    page = portal.get("/audit/?" + query)
    assert page.status_code == 200 and page.context["count"] > 0  # the defaults still report
    if message:
        assert message in page.content.decode()


def test_an_auditor_without_read_on_a_subscription_gets_a_banner_and_the_rest(portal, sandbox):
    sign_in(portal, sandbox, "grace")
    report = portal.get("/audit/")
    assert [f.subscription.display_name for f in report.context["failures"]] == ["Contoso Legacy Apps"]
    assert "Contoso Legacy Apps</strong> could not be read" in report.content.decode()
    assert report.context["count"] > 0


@pytest.mark.parametrize("query", ["start=&end=0001-01-01", "end=0001-01-01", "start=0001-01-01&end=0001-01-02"])
def test_a_date_near_year_one_is_refused_in_words_on_every_audit_view(portal, sandbox, view, query):
    sign_in(portal, sandbox, "carol")
    vm_page = f"/audit/vm/{view.sub('Contoso Production')}/rg-sql/sql-01/"
    for url in ("/audit/", "/audit/report.csv", vm_page, vm_page + "?format=csv"):
        page = portal.get(url + ("&" if "?" in url else "?") + query)
        assert page.status_code == 200, (url, page.status_code)
    assert "Azure keeps the Activity Log for 90 days" in portal.get("/audit/?" + query).content.decode()
