"""The audit join: an initiate event gets its VMs, ports, source and reason from the portal's own
request (same correlation id), else from the policy's history in Azure (same requestor, start within 10 s)."""

from __future__ import annotations

from datetime import timedelta

from audit.report import join
from jitportal.gateway import ActivityEvent
from requests_app.models import AccessRequest, AccessRequestItem
from tests.unit.builders import NOW, SUB, policy, policy_id, port, request, vm_id

INITIATE = "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action"
WRITE = "Microsoft.Security/locations/jitNetworkAccessPolicies/write"


def _event(operation: str, caller: str, correlation: str, at=NOW) -> ActivityEvent:
    return ActivityEvent("e-" + correlation, correlation, operation, operation.rsplit("/", 1)[-1], "Succeeded",
                         "Administrative", "Informational", at, SUB, caller, "jitNetworkAccessPolicies", "rg-web",
                         policy_id())


def test_the_portals_own_request_explains_its_event():
    access = AccessRequest(justification="patch", source_prefix="203.0.113.7", duration_minutes=60, created=NOW)
    items = [AccessRequestItem(request=access, vm_id=vm_id(n), vm_name=n, policy_id=policy_id(), port=p,
                               end=NOW + timedelta(hours=1), correlation_id="c1") for n, p in (("b", 22), ("a", 3389))]
    [row] = join((_event(INITIATE, "alice@contoso.test", "c1"),), {"c1": items}, {}, {SUB: "Contoso Test"})
    assert (row.vms, row.ports, row.source, row.justification, row.joined_from) == (
        "a, b", "22, 3389", "203.0.113.7", "patch", "portal")
    assert row.subscription_name == "Contoso Test"


def test_a_request_made_outside_the_portal_is_explained_by_the_policys_history():
    history = (request("bea@contoso.test", NOW - timedelta(seconds=3), {"a": (22,)}, justification="from the CLI"),
               request("cy@contoso.test", NOW, {"b": (3389,)}, justification="not bea's"))
    policies = {policy_id().lower(): policy({"a": (port(22),), "b": (port(3389),)}, history)}
    [row] = join((_event(INITIATE, "bea@contoso.test", "c2"),), {}, policies, {})
    assert (row.vms, row.ports, row.justification, row.joined_from) == (
        "a", "22", "from the CLI", "Azure policy history")


def test_an_event_nothing_explains_stays_as_azure_wrote_it():
    old = (request("bea@contoso.test", NOW - timedelta(minutes=5), {"a": (22,)}),)
    policies = {policy_id().lower(): policy({"a": (port(22),)}, old)}
    rows = join((_event(INITIATE, "bea@contoso.test", "c3"), _event(WRITE, "bob@contoso.test", "c4")), {},
                policies, {})
    assert [(r.vms, r.joined_from) for r in rows] == [("", ""), ("", "")]
