"""The trail as people get it: its CSV (streamed, with a checkpoint), the client's address behind a proxy, and its
before/after read as differences. The chain itself (append-only, keyed MAC, verification) is tests/unit/test_chain.py's."""

from __future__ import annotations

import logging
import tracemalloc

import pytest
from django.http import StreamingHttpResponse

from audit import csv_export
from audit.difference import difference
from core.actor import PORTAL
from tests.audit.downloads import manifest_of
from tests.sandbox_client import query_of
from trail.chain import checkpoint, record
from trail.models import AuditEvent

pytestmark = pytest.mark.django_db


def _three_events():
    return [
        record(PORTAL, "jit.edit", f"/policy/{i}", "succeeded", details={"before": i, "after": i + 1}) for i in range(3)
    ]


def _peak_while_streaming(count: int) -> int:
    rows = (
        [f"id-{i}", "Initiate JIT Network Access Policy", "Succeeded", "=x" if i % 7 == 0 else "y" * 40]
        for i in range(count)
    )
    response = csv_export.response(
        (p.encode() for p in csv_export.stream(["a", "b", "c", "d"], rows)), "x.csv", "/audit/manifests/x.json"
    )
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


def test_the_trail_csv_streams_from_the_database_and_carries_a_checkpoint(
    client, django_user_model, monkeypatch, caplog
):
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
    portal.get(
        "/accounts/callback", query_of(callback), REMOTE_ADDR="10.9.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.23"
    )
    event = AuditEvent.objects.get(action="sign-in")
    assert (event.outcome, event.source_ip) == ("succeeded", "198.51.100.23")


def test_the_trails_before_and_after_reads_as_a_difference_per_vm():
    vm = "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/"
    details = {
        "before": {
            vm + "web-02": "22/TCP from per request up to 3 h",
            vm + "dev-01": "22/TCP from per request up to 3 h; 3389/Any from per request up to 3 h",
        },
        "after": {
            vm + "dev-01": "22/TCP from per request up to 1 h; 8443/TCP from 10.0.0.0/8+10.1.0.0/16 up to 3 h",
            vm + "dev-08": "22/Any from per request up to 3 h; 3389/Any from per request up to 3 h",
        },
        "error": "Azure refused",
    }
    assert difference(details) == [
        "dev-01: port 22 max 3 h → 1 h, port 3389 removed, port 8443 added (TCP, from 10.0.0.0/8, 10.1.0.0/16, ≤ 3 h)",
        "enabled on dev-08: 22, 3389 (Any, ≤ 3 h)",
        "removed from web-02",
        "error: Azure refused",
    ]


def test_the_trails_details_read_as_words_with_vm_names_beside_arm_ids_never_as_python():
    vm = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/dev-02"
    assert difference({"request": 1, "comment": "ok"}) == ["request: 1", "comment: ok"]
    assert difference({"roles": ["JIT.Auditor"]}) == ["roles: JIT.Auditor"]
    assert difference({"filters": {"vm": "mon-01", "start": ""}, "break_glass": True}) == [
        "filters: vm mon-01; start none",
        "break glass: yes",
    ]
    assert difference({"items": [{"vm": vm, "port": 22}]}) == [f"items: vm dev-02 ({vm}); port 22"]
