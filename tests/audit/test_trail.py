"""The portal's trail is append-only and hash-chained; verify_audit finds the first broken link."""

from __future__ import annotations

import tracemalloc

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import StreamingHttpResponse

from audit import csv_export
from audit.models import AppendOnly, AuditEvent
from audit.trail import first_broken_link, record
from jitportal.actor import PORTAL
from tests.sandbox_client import query_of

pytestmark = pytest.mark.django_db


def _three_events():
    return [record(PORTAL, "jit.edit", f"/policy/{i}", "succeeded", details={"before": i, "after": i + 1})
            for i in range(3)]


def test_events_chain_and_verify(capsys):
    events = _three_events()
    assert events[1].previous_hash == events[0].hash and events[2].previous_hash == events[1].hash
    call_command("verify_audit")
    assert "Audit trail intact: 3 events." in capsys.readouterr().out


def test_no_code_path_changes_or_deletes_an_event():
    event = _three_events()[0]
    event.outcome = "failed"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(outcome="failed")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().delete()


def test_verify_audit_reports_a_changed_event():
    events = _three_events()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"before": 9}', events[1].pk])
    assert first_broken_link() == (events[1].pk, "its content does not match its hash (it was changed)")
    with pytest.raises(CommandError, match=f"broken at event {events[1].pk}"):
        call_command("verify_audit")


def test_verify_audit_reports_a_removed_event():
    events = _three_events()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    broken_id, why = first_broken_link()
    assert broken_id == events[2].pk and "removed or inserted" in why


@pytest.mark.parametrize("value, expected", [
    ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"),
    ("\t=1", "'\t=1"), ("plain", "plain"), ("1-2", "1-2"), (None, ""),
])
def test_cells_a_spreadsheet_would_run_are_neutralised(value, expected):
    assert csv_export.neutralise(value) == expected


def _peak_while_streaming(count: int) -> int:
    rows = ([f"id-{i}", "Initiate JIT Network Access Policy", "Succeeded", "=x" if i % 7 == 0 else "y" * 40]
            for i in range(count))
    response = csv_export.response(csv_export.stream(["a", "b", "c", "d"], rows), "x.csv")
    assert isinstance(response, StreamingHttpResponse)
    tracemalloc.start()
    written = 0
    for chunk in response.streaming_content:
        written += len(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert written > count * 20
    return peak


def test_streaming_200000_rows_keeps_memory_flat():
    small, large = _peak_while_streaming(20_000), _peak_while_streaming(200_000)
    # Ten times the rows (about 15 MB of CSV), but no more memory than a few rows' worth.
    assert large < small + 64 * 1024, (small, large)
    assert large < 256 * 1024


def test_the_trail_csv_streams_from_the_database(client, django_user_model):
    from django.contrib.auth.models import Group

    auditor = django_user_model.objects.create(username="t/a", tenant_id="t", object_id="a", upn="a@contoso.test")
    auditor.groups.add(Group.objects.get_or_create(name="JIT.Auditor")[0])
    client.force_login(auditor)
    _three_events()
    response = client.get("/audit/trail.csv")
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(csv_export.TRAIL_COLUMNS) and text.count("jit.edit") == 3
    assert AuditEvent.objects.filter(action="csv.download").count() == 1


@pytest.mark.integration
def test_the_trail_records_the_client_behind_a_trusted_proxy_not_the_proxy(portal, sandbox, settings):
    settings.TRUSTED_PROXIES = ["10.9.0.0/24"]
    start = portal.get("/accounts/sign-in", REMOTE_ADDR="10.9.0.2", HTTP_X_FORWARDED_FOR="198.51.100.23")
    callback = sandbox.choose_account(start["Location"], "alice")
    portal.get("/accounts/callback", query_of(callback), REMOTE_ADDR="10.9.0.2",
               HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.23")
    event = AuditEvent.objects.get(action="sign-in")
    assert (event.outcome, event.source_ip) == ("succeeded", "198.51.100.23")
