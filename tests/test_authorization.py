"""Every page refuses whoever its roles do not include; the outsider (no portal role) is refused everywhere."""

from __future__ import annotations

from datetime import UTC

import pytest
from django.contrib.auth.models import Group

from accounts.models import User

pytestmark = pytest.mark.django_db

CAST = {
    "requester": ["JIT.Requester"],
    "admin": ["JIT.Admin"],
    "auditor": ["JIT.Auditor"],
    "approver": ["JIT.Approver"],
    "outsider": [],
}
PAGES = {
    "/vms/": {"requester", "admin", "auditor", "approver"},
    "/vms/00000000-0000-0000-0000-000000000000/rg/vm/": {"requester", "admin", "auditor", "approver"},
    "/access/": {"requester"},
    "/access/new": {"requester"},
    "/vms/enable": {"admin"},
    "/audit/": {"admin", "auditor"},
    "/audit/report.csv": {"admin", "auditor"},
    "/audit/trail": {"admin", "auditor"},
    "/audit/trail.csv": {"admin", "auditor"},
    "/access/approvals/": {"approver", "admin"},
    "/access/rules/": {"approver", "admin"},
    "/access/rules/new": {"admin"},
}


@pytest.fixture(autouse=True)
def no_azure(monkeypatch):
    """These tests are about the portal's roles; the fleet is empty rather than fetched."""
    from datetime import datetime
    from unittest import mock

    from core import gateway

    empty = gateway.FleetLoad(None, (), datetime.now(UTC), None)
    monkeypatch.setattr(
        "vms.inventory.gateway.load_fleet", mock.create_autospec(gateway.load_fleet, return_value=empty)
    )
    monkeypatch.setattr(
        "audit.views.gateway.list_subscriptions", mock.create_autospec(gateway.list_subscriptions, return_value=[])
    )


@pytest.fixture
def as_member(client):
    def login(kind: str):
        user = User.objects.create(username=f"t/{kind}", tenant_id="t", object_id=kind, upn=f"{kind}@contoso.test")
        for name in CAST[kind]:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        client.force_login(user)
        return client

    return login


@pytest.mark.parametrize("kind", sorted(CAST))
@pytest.mark.parametrize("path", sorted(PAGES))
def test_each_page_admits_exactly_its_roles(as_member, kind, path):
    response = as_member(kind).get(path)
    allowed_status = 404 if path.count("/") > 3 else 200  # the empty fleet has no such VM
    assert response.status_code == (allowed_status if kind in PAGES[path] else 403)


@pytest.mark.parametrize("path", sorted(PAGES) + ["/"])
def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == f"/accounts/sign-in?next={path}"


def test_pages_carry_a_strict_content_security_policy(as_member):
    response = as_member("auditor").get("/vms/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("kind", sorted(CAST))
def test_refresh_needs_a_role_and_a_post(as_member, kind):
    client = as_member(kind)
    assert client.get("/vms/refresh").status_code == 405
    assert client.post("/vms/refresh").status_code == (302 if CAST[kind] else 403)


@pytest.mark.parametrize("kind", sorted(CAST))
def test_read_only_pages_refuse_a_post(as_member, kind):
    assert as_member(kind).post("/audit/").status_code == 405


@pytest.fixture
def someones_request(db):
    """Alice's request waiting for approval, under a rule; approvers and admins here see no VM of it (empty fleet)."""
    from requests_app.models import AccessRequest, AccessRequestItem, ApprovalRule

    alice = User.objects.create(username="t/alice", tenant_id="t", object_id="alice", upn="alice@contoso.test")
    rule = ApprovalRule.objects.create(name="All")
    access = AccessRequest.objects.create(
        user=alice,
        idempotency_key="k",
        source_prefix="203.0.113.5",
        duration_minutes=60,
        status="awaiting",
        rule=rule,
        approvals_needed=1,
    )
    AccessRequestItem.objects.create(
        request=access,
        vm_id="/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
        vm_name="vm",
        policy_id="p",
        port=22,
        end=access.created,
    )
    return access


ACTIONS = {
    "decide": {"approver"},
    "open": {"approver"},
    "cancel": {"requester"},
    "end": {"requester", "approver", "admin"},
    "extend": {"requester"},
}


@pytest.mark.parametrize("kind", sorted(CAST))
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_request_action_needs_its_role_a_post_and_the_request_in_scope(as_member, someones_request, kind, action):
    """Nobody but Alice owns it and nobody's scope holds its VM: a role that may act gets 404, the others 403."""
    client = as_member(kind)
    url = f"/access/requests/{someones_request.pk}/{action}"
    if action != "extend":
        assert client.get(url).status_code == 405
    answer = client.post(url, {"decision": "approve", "comment": "ok"})
    assert answer.status_code == (404 if kind in ACTIONS[action] else 403)
    someones_request.refresh_from_db()
    assert someones_request.status == "awaiting" and not someones_request.approvals.exists()


@pytest.mark.parametrize("kind", sorted(CAST))
def test_only_admins_change_rules(as_member, kind):
    from requests_app.models import ApprovalRule

    rule = ApprovalRule.objects.create(name="Production")
    client = as_member(kind)
    edited = client.post(
        f"/access/rules/{rule.pk}/",
        {
            "name": "x",
            "condition": "always",
            "approvals_needed": "1",
            "pending_minutes": "60",
            "extension_minutes": "0",
        },
    )
    deleted = client.post(f"/access/rules/{rule.pk}/delete")
    assert (edited.status_code, deleted.status_code) == ((302, 302) if kind == "admin" else (403, 403))
    # The admin passes the role check, then meets Azure's: with no subscription to write JIT policies in, the
    # rule stays (tests/requests_app/test_skippable.py has the admins Azure lets and does not let).
    assert ApprovalRule.objects.exists()


@pytest.mark.parametrize("kind", sorted(CAST))
def test_a_request_page_is_its_owners_or_in_an_overseers_scope(as_member, someones_request, kind):
    assert as_member(kind).get(f"/access/requests/{someones_request.pk}/").status_code == (
        404 if kind in {"requester", "approver", "admin", "auditor"} else 403
    )
