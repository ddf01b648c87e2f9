"""Steps the approval tests share: a browser per person, the demo's Production rule, asking and deciding."""

from __future__ import annotations

import pytest
from django.test import Client

from requests_app.models import AccessRequest, ApprovalRule
from tests.azure_view import AzureView
from tests.conftest import PORTAL_HOST, fill, sign_in, submit


@pytest.fixture
def person(sandbox, db):
    """A separate browser per person, signed in through MSAL (after any role change at the sandbox)."""

    def as_person(key: str, roles: list[str] | None = None) -> Client:
        if roles is not None:
            sandbox.control("POST", f"people/{key}/roles", {"roles": roles})
        client = Client(HTTP_HOST=PORTAL_HOST)
        assert sign_in(client, sandbox, key).status_code == 302
        return client

    return as_person


@pytest.fixture
def production_rule(subs) -> ApprovalRule:
    return ApprovalRule.objects.create(name="Production", subscription_id=subs["prod"], approvals_needed=1)


def ask(client: Client, view: AzureView, vm=("rg-web", "web-02"), **answers) -> AccessRequest:
    response = submit(client, fill(client, [view.vm_id("Contoso Production", *vm)], **answers))
    assert response.status_code == 302, response.content.decode()[:2000]
    return AccessRequest.objects.latest("id")


def decide(client: Client, access: AccessRequest, decision: str, comment: str = ""):
    return client.post(f"/access/requests/{access.pk}/decide", {"decision": decision, "comment": comment})
