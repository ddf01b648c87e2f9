"""The archive answers "who did what, on which VM": requests made outside the portal keep their own source and
reason, a VM's page lists exactly what touched it, a replaced request says so everywhere, and the archive is
collected by the app identity and purged after the retention, on the record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.mgmt.security.v2020_01_01 import models as jit
from django.core.management import call_command
from django.utils import timezone

from audit.models import ArchiveCursor, ArchivedEvent
from audit.report import report_rows
from audit.scope import ReadScope
from sandbox.timeutil import parse_time
from tests.conftest import fill, sign_in, submit
from trail.models import AuditEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def since(days: int = 3) -> dict[str, str]:
    return {"start": (timezone.now() - timedelta(days=days)).date().isoformat()}


def initiate(security, vm_id: str, source: str, justification: str, end) -> None:
    """A request made with Azure's own SDK: outside the portal."""
    security.jit_network_access_policies.initiate(
        "rg-dev",
        "eastus",
        "default",
        jit.JitNetworkAccessPolicyInitiateRequest(
            virtual_machines=[
                jit.JitNetworkAccessPolicyInitiateVirtualMachine(
                    id=vm_id,
                    ports=[
                        jit.JitNetworkAccessPolicyInitiatePort(
                            number=22, allowed_source_address_prefix=source, end_time_utc=end
                        )
                    ],
                )
            ],
            justification=justification,
        ),
    )


def test_five_outside_requests_a_second_apart_each_show_their_own_source_and_reason(portal, sandbox, view, clients_for):
    security = clients_for("alice").security(view.sub("Contoso Development"))
    dev_01 = view.vm_id("Contoso Development", "rg-dev", "dev-01")
    made = [(f"198.51.100.{10 + i}", f"Outside request {i}") for i in range(5)]
    for source, why in made:
        initiate(security, dev_01, source, why, parse_time(sandbox.control("GET", "clock")["now"]) + timedelta(hours=1))
        sandbox.advance("PT1S")
    sign_in(portal, sandbox, "carol")
    rows = portal.get("/audit/", {"vm": "dev-01", "operation": "initiate"}).context["rows"]
    assert [(r.source, r.justification, r.joined_from) for r in rows[:5]] == [
        (source, why, "Azure request history") for source, why in reversed(made)
    ]
    assert [r.fate for r in rows[:5]] == ["open"] + ["replaced by a newer request"] * 4


def test_dev_01s_page_lists_only_the_changes_that_touched_dev_01_as_does_the_report(
    portal, sandbox, view, clients_for, settings
):
    settings.AUDIT_COLLECT_SECONDS = 0  # every read collects: the change made outside the portal, seconds later
    sign_in(portal, sandbox, "carol")
    portal.get("/audit/")  # Carol's read archives the configuration before the change
    sandbox.advance("PT2S")
    security = clients_for("bob").security(view.sub("Contoso Development"))
    policy = security.jit_network_access_policies.get("rg-dev", "eastus", "default")
    dev_02 = next(vm for vm in policy.virtual_machines if vm.id.endswith("/dev-02"))
    dev_02.ports[0].max_request_access_duration = "PT1H"
    security.jit_network_access_policies.create_or_update("rg-dev", "eastus", "default", policy)

    month = since(30)
    page = portal.get(f"/audit/vm/{view.sub('Contoso Development')}/rg-dev/dev-01/", month).context["rows"]
    assert page and all("dev-01" in r.vms.split(", ") for r in page)
    report = portal.get("/audit/", {"vm": "dev-01", **month}).context["rows"]
    assert [r.event.event_id for r in report] == [r.event.event_id for r in page]
    changes = [r.change for r in portal.get("/audit/", {"vm": "dev-02", "operation": "write", **month}).context["rows"]]
    assert changes[0] == f"dev-02: port {dev_02.ports[0].number} max 3 h → 1 h (changed outside the portal)"
    assert changes[1].startswith("enabled on dev-01: ")


def test_a_replaced_request_reads_replaced_by_a_newer_request_on_every_page(portal, sandbox, view):
    dev_01 = view.vm_id("Contoso Development", "rg-dev", "dev-01")
    sign_in(portal, sandbox, "alice")
    assert submit(portal, fill(portal, [dev_01], justification="First try")).status_code == 302
    first = AuditEvent.objects.get(action="access.request").details["request"]
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "carol")
    portal.get("/audit/")  # archived while open: the archive must follow Azure's later status
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "alice")
    sandbox.advance("PT1S")
    assert submit(portal, fill(portal, [dev_01], justification="Second try")).status_code == 302

    assert "Replaced by a newer request" in portal.get(f"/access/requests/{first}/").content.decode()
    states = {p.request.justification: p.state for p in portal.get("/access/").context["history"]}
    assert states == {"First try": "Replaced by a newer request", "Second try": "Open now"}
    vm_page = portal.get(f"/vms/{view.sub('Contoso Development')}/rg-dev/dev-01/").content.decode()
    assert "Replaced by a newer request" in vm_page and "NewerRequestInitiated" not in vm_page
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "carol")
    rows = portal.get("/audit/", {"vm": "dev-01", "operation": "initiate"}).context["rows"]
    assert [(r.justification, r.fate) for r in rows[:2]] == [
        ("Second try", "open"),
        ("First try", "replaced by a newer request"),
    ]


def test_after_an_admin_removes_jit_from_web_02_its_page_shows_its_operations(portal, sandbox, view):
    sub = view.sub("Contoso Production")
    sign_in(portal, sandbox, "carol")
    portal.get("/audit/")  # the archive holds web-02's configuration before the removal
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "bob")
    url = f"/vms/{sub}/rg-web/web-02/jit/remove"
    assert portal.post(url, {"opened": portal.get(url).context["opened"]}, follow=True).context["outcomes"][0].ok
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "carol")
    rows = portal.get(f"/audit/vm/{sub}/rg-web/web-02/", since(30)).context["rows"]
    assert [(r.event.operation.rsplit("/", 1)[-1], r.change or r.justification, r.joined_from) for r in rows] == [
        ("write", "removed from web-02", "portal"),
        ("action", "Investigating disk alert", "Azure request history"),
        (
            "write",
            "enabled on web-02: 22, 3389, 5985, 5986 (Any, ≤ 3 h) (changed outside the portal)",
            "archived configurations",
        ),
    ]


def test_the_app_identity_collects_every_subscription(sandbox, settings, view, capsys):
    reader = next(a for a in sandbox.info()["apps"] if a["display_name"] == "jitportal audit reader")
    settings.AUDIT_READER_CLIENT_ID, settings.AUDIT_READER_CLIENT_SECRET = reader["client_id"], reader["client_secret"]
    start = (timezone.now() - timedelta(days=89)).strftime("%Y-%m-%dT%H:%M:%SZ")
    in_azure = {
        e.event_data_id
        for sub in view.subs.values()
        for e in view.clients.monitor(sub).activity_logs.list(
            filter=f"eventTimestamp ge '{start}' and resourceProvider eq 'Microsoft.Security'"
        )
        if e.event_name.value == "EndRequest"
    }
    call_command("collect_archive")
    assert f"Archived {len(in_azure)} new events." in capsys.readouterr().out
    assert set(ArchivedEvent.objects.values_list("event_id", flat=True)) == in_azure
    assert set(ArchiveCursor.objects.values_list("collector", flat=True)) == {"app"}
    assert ArchiveCursor.objects.count() == len(sandbox.info()["subscriptions"])
    assert ArchivedEvent.objects.filter(explained_by="").count() == 0
    call_command("collect_archive")
    assert "Archived 0 new events." in capsys.readouterr().out


def test_the_workers_housekeeping_collects_as_the_app_when_configured(sandbox, settings):
    from jitportal.tasks import housekeeping

    housekeeping.call()  # no identity configured: nothing is collected, nothing fails
    assert not ArchivedEvent.objects.exists()
    reader = next(a for a in sandbox.info()["apps"] if a["display_name"] == "jitportal audit reader")
    settings.AUDIT_READER_CLIENT_ID, settings.AUDIT_READER_CLIENT_SECRET = reader["client_id"], reader["client_secret"]
    housekeeping.call()
    assert ArchivedEvent.objects.exists()
    assert set(ArchiveCursor.objects.values_list("collector", flat=True)) == {"app"}


def test_purge_deletes_rows_older_than_the_retention_and_is_on_the_trail(settings, capsys):
    settings.AUDIT_RETENTION_DAYS = 400
    now = timezone.now()

    def event(key: str, age: timedelta) -> ArchivedEvent:
        return ArchivedEvent.objects.create(
            event_id=key,
            correlation_id=key,
            operation="x/write",
            operation_name="w",
            status="Succeeded",
            category="Administrative",
            level="Informational",
            time=now - age,
            subscription_id="s",
            caller="bob",
            resource_type="t",
            resource_group="rg",
            resource_id="p",
            scope_subscription="s",
            scope_group="rg",
        )

    event("old", timedelta(days=401))
    event("kept", timedelta(days=399))
    call_command("purge_archive")
    assert "Purged 1 archived events" in capsys.readouterr().out
    assert list(ArchivedEvent.objects.values_list("event_id", flat=True)) == ["kept"]
    purge = AuditEvent.objects.get(action="archive.purge")
    assert purge.details["deleted"]["events"] == 1 and purge.details["retention_days"] == 400


def test_the_portals_record_explains_a_row_only_within_the_viewers_read_scope(portal, sandbox, view):
    """One request across two groups is one trail event naming both; a viewer who reads only rg-dev gets
    rg-dev's row from Azure's own history, not from that trail event."""
    web_01, dev_01 = (
        view.vm_id("Contoso Production", "rg-web", "web-01"),
        view.vm_id("Contoso Development", "rg-dev", "dev-01"),
    )
    sign_in(portal, sandbox, "alice")
    assert submit(portal, fill(portal, [web_01, dev_01], justification="Both at once")).status_code == 302
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "carol")
    portal.get("/audit/")
    event = ArchivedEvent.objects.filter(resource_group="rg-dev", operation__endswith="/initiate/action").first()
    everything = ReadScope(
        frozenset(
            {(view.sub("Contoso Production").lower(), "rg-web"), (view.sub("Contoso Development").lower(), "rg-dev")}
        )
    )
    only_dev = ReadScope(frozenset({(view.sub("Contoso Development").lower(), "rg-dev")}))
    assert [(r.justification, r.joined_from) for r in report_rows([event], {}, everything)] == [
        ("Both at once", "portal")
    ]
    assert [(r.justification, r.source, r.joined_from) for r in report_rows([event], {}, only_dev)] == [
        ("Both at once", "203.0.113.50", "Azure request history")
    ]


@pytest.mark.parametrize("narrow", [3, 0])
def test_a_few_new_events_read_again_only_their_policies_resource_groups(
    sandbox, settings, view, clients_for, monkeypatch, narrow
):
    """Azure returns a policy with its whole request history: a collection after one outside request reads that
    policy's resource group and region, not every policy of the subscription (unless told to, NARROW_READS 0)."""
    from audit import archive
    from audit.models import ArchivedRequest

    monkeypatch.setattr(archive, "NARROW_READS", narrow)
    reader = next(a for a in sandbox.info()["apps"] if a["display_name"] == "jitportal audit reader")
    settings.AUDIT_READER_CLIENT_ID, settings.AUDIT_READER_CLIENT_SECRET = reader["client_id"], reader["client_secret"]
    archive.collect_as_app()
    dev_01 = view.vm_id("Contoso Development", "rg-dev", "dev-01")
    initiate(
        clients_for("alice").security(view.sub("Contoso Development")),
        dev_01,
        "198.51.100.77",
        "Narrow read",
        parse_time(sandbox.control("GET", "clock")["now"]) + timedelta(hours=1),
    )
    sandbox.control("POST", "stats", {})
    assert archive.collect_as_app().new_events == 1
    calls = sandbox.control("GET", "stats")["calls"]
    if narrow:
        assert calls.get("jit.listByResourceGroupAndRegion") == 1 and not calls.get("jit.list")
    else:
        assert calls.get("jit.list") == 1 and not calls.get("jit.listByResourceGroupAndRegion")
    assert ArchivedRequest.objects.filter(
        justification="Narrow read", source="198.51.100.77", vm_id=dev_01.lower()
    ).exists()
    event = ArchivedEvent.objects.get(
        operation__endswith="/initiate/action",
        explained_by="Azure request history",
        time__gte=timezone.now() - timedelta(minutes=5),
    )
    assert [t.request.justification for t in event.touches.all()] == ["Narrow read"]


def test_a_window_ended_by_azures_clock_reads_expired_on_the_report_and_the_csv(portal, sandbox, view, clients_for):
    """Whether a window is open is Azure's to say: with Azure's clock 70 minutes ahead of the portal's, a
    5-minute request has ended (My access says so) though the portal's clock says it is still open."""
    dev_03 = view.vm_id("Contoso Development", "rg-dev", "dev-03")
    initiate(
        clients_for("alice").security(view.sub("Contoso Development")),
        dev_03,
        "198.51.100.50",
        "Five minutes",
        parse_time(sandbox.control("GET", "clock")["now"]) + timedelta(minutes=5),
    )
    sign_in(portal, sandbox, "carol")
    assert portal.get("/audit/", {"vm": "dev-03"}).status_code == 200  # archived while open: an expiry is no event
    sandbox.advance("PT70M")
    portal.post("/vms/refresh")  # the inventory (and Azure's clock with it) read again
    [row] = [
        r
        for r in portal.get("/audit/", {"vm": "dev-03", "operation": "initiate"}).context["rows"]
        if r.justification == "Five minutes"
    ]
    assert row.fate == "expired"
    csv = portal.get("/audit/report.csv", {"vm": "dev-03", "operation": "initiate"})
    [line] = [
        line for line in b"".join(csv.streaming_content).decode("utf-8-sig").splitlines() if "Five minutes" in line
    ]
    assert ",expired," in line
