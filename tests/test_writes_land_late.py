"""Writes that land late (issue 23): Azure may apply a PUT after the portal stopped waiting. A change whose answer
was lost and that the read back did not show applied keeps its policy's lease until a read settles what Azure
holds (or the grace passes), so that no later change is undone by it; what happened is a new trail event, and the
admin is told on the VM's page. Through the real SDK and MSAL against the sandbox's latency and fault knobs."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings
from django.utils import timezone

from core.models import Lease
from requests_app.actions import settle_late_openings
from requests_app.models import AccessRequestItem
from tests.azure_view import AzureView
from tests.conftest import fill, submit
from trail.models import AuditEvent
from vms.models import UnsettledWrite
from vms.settle import settle_due

pytestmark = pytest.mark.integration

SQL = ("Contoso Production", "rg-sql", "northeurope")
DEFAULT_HOURS = {22: "3", 3389: "3", 5985: "3", 5986: "3"}


def _edit(bob, sub: str, opened: str, hours: dict[int, str]):
    data = {"opened": opened, "form-TOTAL_FORMS": str(len(hours)), "form-INITIAL_FORMS": "0"}
    for i, (number, value) in enumerate(sorted(hours.items())):
        data.update(
            {
                f"form-{i}-number": str(number),
                f"form-{i}-protocol": "*",
                f"form-{i}-source": "per-request",
                f"form-{i}-max_value": value,
                f"form-{i}-max_unit": "hours",
            }
        )
    return bob.post(f"/vms/{sub}/rg-sql/sql-01/jit/edit", data)


def _policy_held() -> bool:
    """Whether the lease on rg-sql's policies (northeurope) is held now."""
    return (
        Lease.objects.filter(name__endswith="/resourcegroups/rg-sql/locations/northeurope", expires__gt=timezone.now())
        .exclude(holder="")
        .exists()
    )


def _azure(view: AzureView) -> dict[int, str]:
    return {number: duration for number, _, _, duration in view.ports(*SQL)["sql-01"]}


def _wait_until(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "it never happened"
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_a_put_that_lands_late_cannot_undo_the_next_change(bob, sandbox, view):
    """Bob's story, scaled down (40 s of latency against a 30 s timeout → 5 s against 1 s): his first edit's PUT
    is applied after the portal gave up; his next edit must not be saved before that is known, or the late PUT
    undoes it (Azure ended with 3389 = PT2H and 5985 = PT3H, the recorded success lost)."""
    sub = view.sub(SQL[0])
    first = bob.get(f"/vms/{sub}/rg-sql/sql-01/jit/edit").context["opened"]
    sandbox.control("POST", "latency", {"operation": "jit.put", "ms": 5000})
    with override_settings(AZURE_TIMEOUT_SECONDS=1, POLICY_SETTLE_SECONDS=30):
        page = _edit(bob, sub, first, {**DEFAULT_HOURS, 3389: "2"})
        [outcome] = bob.get(page["Location"]).context["outcomes"]
        assert not outcome.ok and "Azure may still apply it" in outcome.message
        assert AuditEvent.objects.get(action="jit.edit").outcome == "unknown"
        sandbox.control("DELETE", "faults")  # the next PUT is answered at once
        second = bob.get(f"/vms/{sub}/rg-sql/sql-01/jit/edit").context["opened"]
        assert _azure(view)[3389] == "PT3H", "the first PUT has not landed yet"
        with override_settings(POLICY_LEASE_WAIT_SECONDS=15):
            page = _edit(bob, sub, second, {**DEFAULT_HOURS, 5985: "1"})
    # It waited for the first PUT to land, which a read-back settled; then its own form was stale.
    assert page.status_code == 200, "the second edit was saved while the first could still land"
    assert "Someone changed port 3389 on sql-01" in page.content.decode()
    settled = AuditEvent.objects.get(action="jit.settle")
    assert (
        settled.outcome == "applied late"
        and settled.correlation_id == AuditEvent.objects.get(action="jit.edit").correlation_id
    )
    assert not _policy_held(), "the lease is free again"

    again = _edit(bob, sub, page.context["opened"], {**DEFAULT_HOURS, 3389: "2", 5985: "1"})
    assert again.status_code == 302
    time.sleep(1)
    assert _azure(view) == {22: "PT3H", 3389: "PT2H", 5985: "PT1H", 5986: "PT3H"}
    assert [e.outcome for e in AuditEvent.objects.filter(action__startswith="jit.").order_by("seq")] == [
        "unknown",
        "applied late",
        "succeeded",
    ]
    told = bob.get(f"/vms/{sub}/rg-sql/sql-01/").content.decode()
    assert "applied late" in told and "bob@contoso.test" in told


@pytest.mark.django_db(transaction=True)
def test_the_worker_reads_back_what_nobody_saved_after_and_frees_the_policy(bob, sandbox, view):
    sub = view.sub(SQL[0])
    form = bob.get(f"/vms/{sub}/rg-sql/sql-01/jit/edit").context["opened"]
    sandbox.control("POST", "latency", {"operation": "jit.put", "ms": 4000})
    with override_settings(AZURE_TIMEOUT_SECONDS=1, POLICY_SETTLE_SECONDS=30):
        _edit(bob, sub, form, {**DEFAULT_HOURS, 22: "1"})
        assert settle_due() == 0  # not landed yet: still unsettled, the lease held
        assert _policy_held()
        told = bob.get(f"/vms/{sub}/rg-sql/sql-02/").content.decode()  # the same policy's other VM
        assert "Azure may still apply it" in told
        _wait_until(lambda: _azure(view)[22] == "PT1H")
        assert settle_due() == 1  # read as Bob, with his own session's token
    write = UnsettledWrite.objects.get()
    assert write.outcome == "applied late" and write.settled_at is not None
    assert AuditEvent.objects.get(action="jit.settle").details["resolved"].endswith("Read back as bob@contoso.test.")
    assert not _policy_held()


@pytest.mark.django_db(transaction=True)
def test_a_change_never_applied_frees_the_policy_when_the_grace_ends(bob, sandbox, view):
    """A 503 on a PUT is an unknown outcome; Azure never applied it: after the grace it is recorded as not applied
    and the next change goes through."""
    sub = view.sub(SQL[0])
    form = bob.get(f"/vms/{sub}/rg-sql/sql-01/jit/edit").context["opened"]
    sandbox.control("POST", "faults", {"operation": "jit.put", "kind": "503", "count": 1})
    with override_settings(POLICY_SETTLE_SECONDS=8, POLICY_LEASE_WAIT_SECONDS=0):
        _edit(bob, sub, form, {**DEFAULT_HOURS, 22: "1"})
        form = bob.get(f"/vms/{sub}/rg-sql/sql-01/jit/edit").context["opened"]
        busy = bob.get(_edit(bob, sub, form, {**DEFAULT_HOURS, 22: "2"})["Location"]).context["outcomes"][0]
        assert not busy.ok and "The portal holds other changes to it until a read shows what Azure did" in busy.message
        assert settle_due() == 0  # within the grace, and not applied: it stays unsettled
        settle_by = UnsettledWrite.objects.get().settle_by
        _wait_until(lambda: timezone.now() > settle_by)
        assert settle_due() == 1
        page = _edit(bob, sub, form, {**DEFAULT_HOURS, 22: "2"})
    assert bob.get(page["Location"]).context["outcomes"][0].ok
    assert _azure(view)[22] == "PT2H"
    assert AuditEvent.objects.get(action="jit.settle").outcome == "not applied"


@pytest.mark.django_db(transaction=True)
def test_an_opening_that_lands_late_is_recorded_once_azure_lists_it(alice, sandbox, view):
    """The same for an initiate: read back too early it was 'not opened'; once Azure's request history lists it
    open (My access reads it with the inventory), the port is opened and the trail says it was applied late."""
    data = fill(alice, [view.vm_id("Contoso Development", "rg-dev", "dev-01")])
    sandbox.control("POST", "latency", {"operation": "jit.initiate", "ms": 4000})
    with override_settings(AZURE_TIMEOUT_SECONDS=1):
        submit(alice, data)
    item = AccessRequestItem.objects.get()
    assert item.status == "failed" and "it was not opened" in item.message
    sandbox.control("DELETE", "faults")

    def listed() -> bool:
        return any(
            port.status == "Initiated" and request.justification == data["justification"]
            for request in view.policies("Contoso Development", "rg-dev", "eastus")[0].requests
            for vm in request.virtual_machines
            for port in vm.ports
        )

    _wait_until(listed)
    alice.post("/vms/refresh")
    mine = alice.get("/access/")
    item.refresh_from_db()
    assert item.status == "opened" and "applied late" in item.message
    assert [a.item.pk for a in mine.context["open"]] == [item.pk]
    event = AuditEvent.objects.get(action="access.settle")
    assert event.outcome == "applied late" and event.correlation_id == item.correlation_id
    page = alice.get(f"/access/requests/{item.request_id}/").content.decode()
    assert "Open until" in page and "Not opened (try again)" not in page
    alice.get("/access/")
    assert AuditEvent.objects.filter(action="access.settle").count() == 1  # said once


@pytest.mark.django_db(transaction=True)
def test_the_worker_records_an_opening_that_landed_late_as_the_read_only_app(alice, sandbox, view, settings):
    reader = next(a for a in sandbox.info()["apps"] if a["display_name"] == "jitportal audit reader")
    data = fill(alice, [view.vm_id("Contoso Development", "rg-dev", "dev-03")])
    sandbox.control("POST", "latency", {"operation": "jit.initiate", "ms": 4000})
    with override_settings(AZURE_TIMEOUT_SECONDS=1):
        submit(alice, data)
    sandbox.control("DELETE", "faults")
    assert settle_late_openings() == 0  # no app identity configured: the requester's My access does it
    settings.AUDIT_READER_CLIENT_ID, settings.AUDIT_READER_CLIENT_SECRET = reader["client_id"], reader["client_secret"]
    _wait_until(lambda: settle_late_openings() == 1)
    item = AccessRequestItem.objects.get()
    assert item.status == "opened"
    assert AuditEvent.objects.get(action="access.settle").outcome == "applied late"
    assert settle_late_openings() == 0
