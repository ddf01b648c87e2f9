"""The portal's trail is append-only and chained by a keyed MAC; verify_audit finds the first break, including
newest events removed since a checkpoint, and someone who rewrites the database without the key."""

from __future__ import annotations

import hashlib
import logging
import tracemalloc

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import StreamingHttpResponse

from audit import csv_export
from audit.difference import difference
from core.actor import PORTAL
from tests.audit.downloads import manifest_of
from tests.sandbox_client import query_of
from trail.chain import Break, Checkpoint, checkpoint, first_break, record
from trail.models import AppendOnly, AuditEvent

pytestmark = pytest.mark.django_db


def _three_events():
    return [record(PORTAL, "jit.edit", f"/policy/{i}", "succeeded", details={"before": i, "after": i + 1})
            for i in range(3)]


def test_events_chain_and_verify(capsys):
    events = _three_events()
    assert events[1].previous_mac == events[0].mac and events[2].previous_mac == events[1].mac
    assert [e.seq for e in events] == [1, 2, 3] and len({e.key_id for e in events}) == 1
    call_command("verify_audit", checkpoint=[str(Checkpoint(2, events[1].mac))])
    assert f"Audit trail intact: 3 events; head checkpoint 3:{events[2].mac}." in capsys.readouterr().out


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
    assert first_break() == Break(2, "its content does not match its MAC (it was changed)")
    with pytest.raises(CommandError, match="broken at event 2"):
        call_command("verify_audit")


def test_verify_audit_reports_a_removed_event():
    events = _three_events()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    assert first_break() == Break(2, "event 2 is missing (the next is 3): events were removed")


def _rewrite(event: AuditEvent, previous: str, seal) -> str:
    """What someone who can write the database does: change, relink and re-seal with what they have."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET previous_mac = %s WHERE id = %s", [previous, event.pk])
        fresh = AuditEvent.objects.get(pk=event.pk)
        cursor.execute("UPDATE audit_auditevent SET mac = %s WHERE id = %s", [seal(fresh), event.pk])
    return seal(fresh)


@pytest.mark.parametrize("seal", [
    lambda e: hashlib.sha256(e.canonical().encode()).hexdigest(),  # the old, unkeyed chain
    lambda e: e.compute_mac(b"a guessed key"),
], ids=["sha256", "guessed-key"])
def test_rewriting_an_event_and_recomputing_every_later_link_without_the_key_is_caught(seal):
    events = _three_events()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"before": 9}', events[1].pk])
    previous = events[0].mac
    for event in events[1:]:
        previous = _rewrite(event, previous, seal)
    assert first_break() == Break(2, "its content does not match its MAC (it was changed)")


def test_deleting_the_newest_events_is_caught_against_a_checkpoint(capsys):
    events = _three_events()
    taken = checkpoint()
    assert taken == Checkpoint(3, events[2].mac)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [events[1].pk, events[2].pk])
    assert first_break() is None  # the chain alone cannot know what came after its head
    with pytest.raises(CommandError, match="the trail ends at event 1, but the checkpoint counts 3: the newest"):
        call_command("verify_audit", checkpoint=[str(taken)])


def test_a_trail_rewritten_after_a_checkpoint_differs_from_it():
    events = _three_events()
    assert first_break(Checkpoint(2, "f" * 64)) == Break(2, "it differs from the checkpoint's MAC (the trail was "
                                                            "rewritten since)")
    assert first_break(Checkpoint(2, events[1].mac)) is None


def test_a_bad_checkpoint_is_refused_in_words():
    with pytest.raises(CommandError, match="a checkpoint is <count>:<64 hex digits>"):
        call_command("verify_audit", checkpoint=["3:abc"])


def test_a_rotated_key_still_verifies_the_events_it_sealed(settings):
    settings.AUDIT_KEY = "the first key"
    old = _three_events()
    settings.AUDIT_KEY, settings.AUDIT_PREVIOUS_KEYS = "the second key", ["the first key"]
    new = record(PORTAL, "sign-in", "", "succeeded")
    assert new.key_id != old[0].key_id and first_break() is None
    settings.AUDIT_PREVIOUS_KEYS = []
    assert first_break() == Break(1, f"it names key {old[0].key_id!r}, which is not configured (AUDIT_PREVIOUS_KEYS?)")


def test_a_checkpoint_goes_to_the_log_every_so_many_events(settings, caplog):
    settings.AUDIT_CHECKPOINT_EVERY = 2
    with caplog.at_level(logging.INFO, logger="audit.checkpoint"):
        events = _three_events()
    assert [r.getMessage() for r in caplog.records] == [f"audit checkpoint 2:{events[1].mac}"]


@pytest.mark.parametrize("value, expected", [
    ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"),
    ("\t=1", "'\t=1"), ("plain", "plain"), ("1-2", "1-2"), (None, ""),
])
def test_cells_a_spreadsheet_would_run_are_neutralised(value, expected):
    assert csv_export.neutralise(value) == expected


def _peak_while_streaming(count: int) -> int:
    rows = ([f"id-{i}", "Initiate JIT Network Access Policy", "Succeeded", "=x" if i % 7 == 0 else "y" * 40]
            for i in range(count))
    response = csv_export.response((p.encode() for p in csv_export.stream(["a", "b", "c", "d"], rows)), "x.csv",
                                   "/audit/manifests/x.json")
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


def test_the_trail_csv_streams_from_the_database_and_carries_a_checkpoint(client, django_user_model, monkeypatch,
                                                                         caplog):
    from audit import views

    monkeypatch.setattr(views, "_scope", lambda request: views.ReadScope(frozenset()))
    from django.contrib.auth.models import Group

    auditor = django_user_model.objects.create(username="t/a", tenant_id="t", object_id="a", upn="a@contoso.test")
    auditor.groups.add(Group.objects.get_or_create(name="JIT.Auditor")[0])
    client.force_login(auditor)
    _three_events()
    with caplog.at_level(logging.INFO, logger="audit.checkpoint"):
        response = client.get("/audit/trail.csv")
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    head = checkpoint()
    assert head.count == 4 and manifest_of(client, response)["checkpoint"] == str(head)
    assert [r.getMessage() for r in caplog.records if r.name == "audit.checkpoint"] == [f"audit checkpoint {head}"]
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


def test_the_trails_before_and_after_reads_as_a_difference_per_vm():
    vm = "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/"
    details = {"before": {vm + "web-02": "22/TCP from per request up to 3 h",
                          vm + "dev-01": "22/TCP from per request up to 3 h; 3389/Any from per request up to 3 h"},
               "after": {vm + "dev-01": "22/TCP from per request up to 1 h; 8443/TCP from 10.0.0.0/8+10.1.0.0/16 up to 3 h",
                         vm + "dev-08": "22/Any from per request up to 3 h; 3389/Any from per request up to 3 h"},
               "error": "Azure refused"}
    assert difference(details) == [
        "dev-01: port 22 max 3 h → 1 h, port 3389 removed, port 8443 added (TCP, from 10.0.0.0/8, 10.1.0.0/16, ≤ 3 h)",
        "enabled on dev-08: 22, 3389 (Any, ≤ 3 h)", "removed from web-02", "error: Azure refused"]


def test_the_trails_details_read_as_words_with_vm_names_beside_arm_ids_never_as_python():
    vm = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/dev-02"
    assert difference({"request": 1, "comment": "ok"}) == ["request: 1", "comment: ok"]
    assert difference({"roles": ["JIT.Auditor"]}) == ["roles: JIT.Auditor"]
    assert difference({"filters": {"vm": "mon-01", "start": ""}, "break_glass": True}) == [
        "filters: vm mon-01; start none", "break glass: yes"]
    assert difference({"items": [{"vm": vm, "port": 22}]}) == [f"items: vm dev-02 ({vm}); port 22"]
