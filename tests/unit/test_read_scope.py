"""What a viewer may see of the audit record: only events about resource groups where Azure lists them a VM
(audit/scope.py); events about no Azure scope (a sign-in) are everyone's."""

from __future__ import annotations

import pytest

from audit.scope import ReadScope, scope_of
from core.actor import PORTAL
from tests.unit.builders import NOW
from trail.chain import record
from trail.models import AuditEvent, AuditScope
from vms.inventory import CONFIGURED, Inventory, VmRow

SUB, OTHER = "0b1c2d3e-aaaa-4bbb-8ccc-0123456789ab", "99999999-aaaa-4bbb-8ccc-0123456789ab"


def _policy(sub: str, rg: str) -> str:
    return (
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Security/locations/westeurope/"
        "jitNetworkAccessPolicies/default"
    )


def _row(sub: str, rg: str) -> VmRow:
    return VmRow(
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/vm",
        "vm",
        sub,
        "Contoso",
        rg,
        "westeurope",
        "Linux",
        "running",
        CONFIGURED,
    )


def test_the_scope_is_the_groups_where_azure_lists_the_person_a_vm_in_lower_case():
    inventory = Inventory(
        rows=(_row(SUB.upper(), "rg-Web"), _row(OTHER, "rg-db")),
        failures=(),
        subscription_count=2,
        azure_now=NOW,
        fetched_at=0.0,
        epochs={},
    )
    scope = scope_of(inventory)
    assert scope.groups == frozenset({(SUB, "rg-web"), (OTHER, "rg-db")})
    assert scope.covers(SUB.upper(), "RG-WEB") and scope.covers(OTHER, "rg-db")
    assert not scope.covers(SUB, "rg-db") and not scope.covers(OTHER, "rg-web")


@pytest.mark.django_db
def test_a_viewer_sees_events_in_their_scope_and_those_about_no_scope_and_is_told_how_many_are_hidden():
    web, *_ = (
        record(PORTAL, "jit.edit", _policy(sub, rg), "succeeded")
        for sub, rg in [(SUB, "rg-Web"), (SUB, "rg-db"), (OTHER, "rg-web")]
    )
    sign_in = record(PORTAL, "sign-in", "", "succeeded")
    record(PORTAL, "jit.request", f"{_policy(SUB, 'rg-web')} {_policy(SUB, 'rg-db')}", "succeeded")
    scope = ReadScope(frozenset({(SUB, "rg-web"), (OTHER, "rg-db")}))
    shown, hidden = scope.visible(AuditEvent.objects.all())
    # An event about two groups is shown only to someone who may read both.
    assert set(shown) == {web, sign_in} and hidden == 3
    shown, hidden = ReadScope(frozenset()).visible(AuditEvent.objects.all())
    assert list(shown) == [sign_in] and hidden == 4


@pytest.mark.django_db
def test_the_scope_filters_any_table_with_lower_case_ids():
    for sub, rg in [(SUB, "rg-web"), (SUB, "rg-db"), (OTHER, "rg-web"), (OTHER, "rg-db")]:
        AuditScope.objects.create(event=record(PORTAL, "x", "", "succeeded"), subscription_id=sub, resource_group=rg)
    scope = ReadScope(frozenset({(SUB, "rg-web"), (SUB, "rg-db"), (OTHER, "rg-db")}))
    assert set(AuditScope.objects.filter(scope.allowed()).values_list("subscription_id", "resource_group")) == {
        (SUB, "rg-web"),
        (SUB, "rg-db"),
        (OTHER, "rg-db"),
    }
    assert not AuditScope.objects.filter(ReadScope(frozenset()).allowed()).exists()
