"""Microsoft.Authorization/permissions in the sandbox, and the rights Defender for Cloud documents for JIT."""

from __future__ import annotations

import pytest

from sandbox import rbac

pytestmark = pytest.mark.integration

VM_WRITE = "Microsoft.Compute/virtualMachines/write"


def _permissions(sandbox, token_for, person: str, scope: str) -> list[dict]:
    answer = sandbox.http().get(
        f"{sandbox.base_url}{scope}/providers/Microsoft.Authorization/permissions",
        params={"api-version": "2022-04-01"},
        headers={"Authorization": f"Bearer {token_for(person)}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


def test_it_answers_with_the_roles_assigned_at_the_group_or_above(sandbox, token_for, subs):
    shared = f"/subscriptions/{subs['shared']}"
    grace_group = _permissions(sandbox, token_for, "grace", f"{shared}/resourceGroups/rg-shared")
    assert grace_group == [{"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}]
    assert _permissions(sandbox, token_for, "grace", f"{shared}/resourceGroups/rg-monitor") == []
    bob = _permissions(sandbox, token_for, "bob", f"{shared}/resourceGroups/rg-monitor")
    assert {a for block in bob for a in block["actions"]} >= {
        "Microsoft.Security/*",
        "Microsoft.Compute/virtualMachines/*",
    }


def test_a_missing_group_is_resource_group_not_found(sandbox, token_for, subs):
    answer = sandbox.http().get(
        f"{sandbox.base_url}/subscriptions/{subs['dev']}/resourceGroups/rg-nope/providers/"
        "Microsoft.Authorization/permissions",
        params={"api-version": "2022-04-01"},
        headers={"Authorization": f"Bearer {token_for('bob')}"},
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "ResourceGroupNotFound"


def test_roles_allow_with_wildcards_and_take_away_with_not_actions():
    assert rbac.role_allows("Reader", "Microsoft.Security/locations/jitNetworkAccessPolicies/read")
    assert not rbac.role_allows("Reader", VM_WRITE)
    assert rbac.role_allows("Contributor", VM_WRITE)
    assert not rbac.role_allows("Contributor", "Microsoft.Authorization/roleAssignments/write")  # a notAction
    assert rbac.role_allows("JIT VM Access Requester", "Microsoft.Security/locations/jitNetworkAccessPolicies/read")


def test_security_admin_alone_cannot_configure_jit_as_in_azure():
    """Configuring JIT needs jitNetworkAccessPolicies/write and virtualMachines/write: Security Admin has only
    the first, so the demo admin also holds Virtual Machine Contributor."""
    assert rbac.role_allows("Security Admin", f"{rbac.JIT}/write")
    assert not rbac.role_allows("Security Admin", VM_WRITE)
    assert rbac.role_allows("Virtual Machine Contributor", VM_WRITE)
