"""A person's audit pages read Azure's new Activity Log tail at most once every AUDIT_COLLECT_SECONDS per
subscription (the page then reads the archive alone), except where the portal's own trail has recorded a
change since: so a page over a large archive does not wait on Azure at every view, and stays true."""

from __future__ import annotations

import pytest

from tests.conftest import sign_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

BUILD_01 = "/subscriptions/{sub}/resourceGroups/rg-build/providers/Microsoft.Compute/virtualMachines/build-01"


def activity_reads(sandbox) -> int:
    return sandbox.control("GET", "stats")["calls"].get("activityLog.list", 0)


def test_it_reads_no_activity_log_at_a_second_view_within_the_minute(portal, sandbox, view):
    sign_in(portal, sandbox, "carol")
    first = portal.get("/audit/")
    assert activity_reads(sandbox) == len(first.context["subscriptions"])  # one tail read per subscription
    assert "at most every 60 s" in first.content.decode()  # the page says how fresh it can be
    sandbox.control("POST", "stats", {})
    again = portal.get("/audit/", {"operation": "initiate"})
    vm_page = portal.get(f"/audit/vm/{view.sub('Contoso Development')}/rg-build/build-01/")
    assert again.status_code == vm_page.status_code == 200
    assert activity_reads(sandbox) == 0
    assert again.context["count"] > 0 and again.context["freshness"] == first.context["freshness"]


def test_it_reads_again_a_subscription_the_portal_changed_since_and_only_that_one(portal, sandbox, view):
    sub = view.sub("Contoso Development")
    sign_in(portal, sandbox, "carol")
    portal.get("/audit/")
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "bob")
    assert (
        portal.post("/vms/enable/defaults", {"vm": [BUILD_01.format(sub=sub)]}, follow=True).context["outcomes"][0].ok
    )
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "carol")
    sandbox.control("POST", "stats", {})
    rows = portal.get("/audit/", {"resource_group": "rg-build", "operation": "write"}).context["rows"]
    assert activity_reads(sandbox) == 1
    assert rows[0].change.startswith("enabled on build-01: ") and rows[0].joined_from == "portal"


def test_it_tries_a_subscription_that_could_not_be_read_again_at_every_view(portal, sandbox):
    sign_in(portal, sandbox, "grace")
    portal.get("/audit/")
    sandbox.control("POST", "stats", {})
    report = portal.get("/audit/")
    assert [name for name, _ in report.context["unread"]] == ["Contoso Legacy Apps"]
    assert activity_reads(sandbox) == 1


def test_every_view_reads_the_tail_when_the_setting_is_0(portal, sandbox, settings):
    settings.AUDIT_COLLECT_SECONDS = 0
    sign_in(portal, sandbox, "carol")
    subscriptions = len(portal.get("/audit/").context["subscriptions"])
    portal.get("/audit/")
    assert activity_reads(sandbox) == 2 * subscriptions
