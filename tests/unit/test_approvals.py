"""Approvals as the domain decides them: which rule a request waits on (the strictest whose scope and condition it
meets), who may decide on it, and whose requests a person may look at (requests_app/rules.py, models.py,
visibility.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.http import Http404

from accounts.roles import ADMIN, APPROVER, AUDITOR, REQUESTER
from requests_app.models import AccessRequest, AccessRequestItem, ApprovalRule
from requests_app.plan import Choice, Planned
from requests_app.rules import rule_for, rules_for_ports
from requests_app.states import IllegalTransition, RequestStatus
from requests_app.visibility import in_scope, overseen_request, own_item, own_request
from tests.unit.builders import NOW, port
from vms.inventory import CONFIGURED, Inventory, VmRow

SUB, OTHER = "0b1c2d3e-aaaa-4bbb-8ccc-0123456789ab", "99999999-aaaa-4bbb-8ccc-0123456789ab"


def _policy(sub: str = SUB, rg: str = "rg-Web") -> str:
    return (
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Security/locations/westeurope/"
        "jitNetworkAccessPolicies/default"
    )


def _vm_id(name: str, sub: str = SUB, rg: str = "rg-Web") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


def _rule(**fields) -> ApprovalRule:
    return ApprovalRule(**{"name": "Production", **fields})


@pytest.mark.parametrize(
    "rule, sub, rg, covers",
    [
        (_rule(), SUB, "rg-web", True),  # blank: everywhere
        (_rule(subscription_id=SUB), SUB.upper(), "rg-any", True),
        (_rule(subscription_id=SUB), OTHER, "rg-web", False),
        (_rule(subscription_id=SUB, resource_group="RG-WEB"), SUB, "rg-Web", True),
        (_rule(subscription_id=SUB, resource_group="rg-web"), SUB, "rg-db", False),
        (_rule(subscription_id=SUB, resource_group="rg-web"), OTHER, "rg-web", False),
        (_rule(resource_group="rg-web"), OTHER, "rg-web", True),
    ],
)
def test_a_rule_covers_its_subscription_and_group_in_any_case(rule, sub, rg, covers):
    assert rule.covers(sub, rg) is covers


@pytest.mark.parametrize(
    "rule, port_number, minutes, asks",
    [
        (_rule(condition=ApprovalRule.ALWAYS), 22, 5, True),
        (_rule(condition=ApprovalRule.LONGER, longer_than_minutes=60), 22, 60, False),
        (_rule(condition=ApprovalRule.LONGER, longer_than_minutes=60), 22, 61, True),
        (_rule(condition=ApprovalRule.LONGER, longer_than_minutes=None), 22, 1, True),
        (_rule(condition=ApprovalRule.LONGER, longer_than_minutes=None), 22, 0, False),
        (_rule(condition=ApprovalRule.PORTS, ports="22, 3389"), 3389, 5, True),
        (_rule(condition=ApprovalRule.PORTS, ports="22,3389"), 3389, 5, True),
        (_rule(condition=ApprovalRule.PORTS, ports="22, 3389"), 2222, 5, False),
    ],
)
def test_a_rule_asks_for_approval_when_its_condition_is_met(rule, port_number, minutes, asks):
    assert rule.asks(port_number, minutes) is asks


def test_a_rule_is_shown_by_its_name():
    assert str(_rule(name="Production")) == "Production"


@pytest.mark.django_db
def test_the_strictest_rule_comes_first_most_approvals_then_the_shortest_wait():
    loose = ApprovalRule.objects.create(name="loose", approvals_needed=1, pending_minutes=30)
    strict = ApprovalRule.objects.create(name="strict", approvals_needed=2, pending_minutes=120)
    quick = ApprovalRule.objects.create(name="quick", approvals_needed=2, pending_minutes=15)
    ApprovalRule.objects.create(name="elsewhere", subscription_id=OTHER, approvals_needed=3)
    ApprovalRule.objects.create(name="rdp", condition=ApprovalRule.PORTS, ports="3389", approvals_needed=3)
    assert rules_for_ports([(_policy(), 22, 60)]) == [quick, strict, loose]
    rdp = ApprovalRule.objects.get(name="rdp")
    assert rules_for_ports([(_policy(), 22, 60), (_policy(), 3389, 5)]) == [rdp, quick, strict, loose]
    assert rules_for_ports([]) == [] and rules_for_ports([("not a policy id", 22, 60)]) == [quick, strict, loose]


@pytest.mark.django_db
def test_a_rule_scoped_to_a_group_meets_only_ports_of_that_group():
    web = ApprovalRule.objects.create(name="web", subscription_id=SUB, resource_group="rg-web")
    assert rules_for_ports([(_policy(rg="rg-Web"), 22, 60)]) == [web]
    assert rules_for_ports([(_policy(rg="rg-db"), 22, 60)]) == []
    assert rules_for_ports([("not a policy id", 22, 60)]) == []  # an id it cannot read is in no group
    assert rules_for_ports([(_policy(rg="rg-db"), 22, 60), (_policy(rg="rg-web"), 22, 60)]) == [web]


def _planned(minutes: int, number: int = 22) -> Planned:
    row = VmRow(
        _vm_id("web-01"),
        "web-01",
        SUB,
        "Contoso",
        "rg-Web",
        "westeurope",
        "Linux",
        "running",
        CONFIGURED,
        policy_id=_policy(),
    )
    return Planned(Choice(row, port(number)), "203.0.113.7", timedelta(minutes=minutes))


@pytest.mark.django_db
def test_a_request_waits_on_the_strictest_rule_its_windows_meet():
    assert rule_for([_planned(90)]) is None  # no rule: it opens at once
    longer = ApprovalRule.objects.create(name="long", condition=ApprovalRule.LONGER, longer_than_minutes=60)
    assert rule_for([_planned(60)]) is None
    assert rule_for([_planned(30), _planned(61, number=3389)]) == longer  # a window of 60 min and 59.99 s is 60


@pytest.mark.django_db
def test_an_extension_of_an_open_request_up_to_the_rules_allowance_needs_no_new_approval(django_user_model):
    rule = ApprovalRule.objects.create(name="always", extension_minutes=60)
    alice = django_user_model.objects.create(username="t/a", tenant_id="t", object_id="a")
    opened = _request(alice, status=RequestStatus.OPENED)
    partly = _request(alice, status=RequestStatus.PARTLY_OPENED)
    assert rule_for([_planned(60)], extends=opened) is None and rule_for([_planned(60)], extends=partly) is None
    assert rule_for([_planned(61)], extends=opened) == rule
    assert rule_for([_planned(30), _planned(61, 3389)], extends=opened) == rule  # every port within it
    for status in (RequestStatus.WAITING_FOR_AZURE, RequestStatus.NOT_OPENED, RequestStatus.DENIED):
        assert rule_for([_planned(5)], extends=_request(alice, status=status)) == rule  # it never opened
    assert rule_for([_planned(5)]) == rule


_keys = iter(range(10_000))


def _request(user, status=RequestStatus.PENDING_APPROVAL, **fields) -> AccessRequest:
    return AccessRequest.objects.create(
        user=user,
        idempotency_key=f"k{next(_keys)}",
        source_prefix="203.0.113.7",
        duration_minutes=60,
        status=status,
        **fields,
    )


@pytest.fixture
def cast(django_user_model):
    def person(key: str, *roles: str):
        user = django_user_model.objects.create(
            username=f"t/{key}", tenant_id="t", object_id=key, upn=f"{key}@Contoso.com"
        )
        user.groups.add(*(Group.objects.get_or_create(name=role)[0] for role in roles))
        return user

    return {
        "alice": person("alice", REQUESTER),
        "bob": person("bob", APPROVER),
        "dave": person("dave", ADMIN),
        "grace": person("grace", AUDITOR),
        "eve": person("eve", REQUESTER),
    }


@pytest.mark.django_db
def test_nobody_decides_on_their_own_request_and_a_rule_naming_approvers_keeps_to_them(cast):
    access = _request(cast["alice"], rule_name="Production")
    assert access.why_not_decide(cast["alice"]) == "Nobody approves their own request."
    assert access.why_not_decide(cast["bob"]) == ""
    access.approvers = "BOB@contoso.com\n\n  dave@contoso.com  \n"
    assert access.why_not_decide(cast["bob"]) == "" and access.why_not_decide(cast["dave"]) == ""
    assert access.why_not_decide(cast["grace"]) == "The rule “Production” names other approvers."
    cast["bob"].upn = ""
    assert access.why_not_decide(cast["bob"]) == "The rule “Production” names other approvers."


@pytest.mark.django_db
def test_a_request_moves_only_as_the_state_machine_allows(cast):
    access = _request(cast["alice"])
    access.move(RequestStatus.WAITING_FOR_AZURE)
    assert access.status == RequestStatus.WAITING_FOR_AZURE
    with pytest.raises(IllegalTransition):
        access.move(RequestStatus.DENIED)
    assert access.status == RequestStatus.WAITING_FOR_AZURE


def _item(access: AccessRequest, vm_id: str) -> AccessRequestItem:
    return AccessRequestItem.objects.create(
        request=access, vm_id=vm_id, vm_name="vm", policy_id=_policy(), port=22, end=NOW
    )


def _inventory(*vm_ids: str) -> Inventory:
    rows = tuple(VmRow(v, "vm", SUB, "Contoso", "rg-Web", "westeurope", "Linux", "running", CONFIGURED) for v in vm_ids)
    return Inventory(rows=rows, failures=(), subscription_count=1, azure_now=NOW, fetched_at=0.0, epochs={})


@pytest.mark.django_db
def test_a_person_finds_their_own_requests_and_ports_only(cast):
    mine, also_mine, theirs = _request(cast["alice"]), _request(cast["alice"]), _request(cast["eve"])
    item, other_item = _item(mine, _vm_id("web-01")), _item(also_mine, _vm_id("db-01"))
    assert own_request(cast["alice"], mine.pk) == mine and own_item(cast["alice"], item.pk) == item
    assert (
        own_request(cast["alice"], also_mine.pk) == also_mine and own_item(cast["alice"], other_item.pk) == other_item
    )
    with pytest.raises(Http404):
        own_request(cast["alice"], theirs.pk)
    with pytest.raises(Http404):
        own_item(cast["eve"], item.pk)


@pytest.mark.django_db
def test_a_request_is_in_scope_when_the_person_sees_every_one_of_its_vms(cast):
    access = _request(cast["alice"])
    _item(access, _vm_id("web-01"))
    _item(access, _vm_id("db-01", rg="rg-db"))
    assert in_scope(_inventory(_vm_id("web-01"), _vm_id("db-01", rg="rg-db").upper()), access)
    assert not in_scope(_inventory(_vm_id("web-01")), access)
    assert not in_scope(None, access)


@pytest.mark.django_db
def test_overseers_see_others_requests_in_their_scope_others_only_their_own(cast):
    access, other = _request(cast["alice"]), _request(cast["alice"])
    _item(access, _vm_id("web-01"))
    sees = _inventory(_vm_id("web-01"))
    assert overseen_request(cast["alice"], access.pk, None) == access  # their own, whatever Azure says
    assert overseen_request(cast["alice"], other.pk, None) == other
    for overseer in ("bob", "dave", "grace"):
        assert overseen_request(cast[overseer], access.pk, sees) == access
        with pytest.raises(Http404):
            overseen_request(cast[overseer], access.pk, _inventory())  # outside their scope
    with pytest.raises(Http404) as refused:
        overseen_request(cast["eve"], access.pk, sees)  # a requester does not oversee others
    assert str(refused.value) == "No such request, or not one you may see."  # the 404 page shows it
