"""The home page, and the first pages after it, as each kind of person meets them: what is offered is what they
can do, and what is not offered says why once."""

from __future__ import annotations

import pytest

from tests.conftest import sign_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _home(portal, sandbox, person: str) -> str:
    sign_in(portal, sandbox, person)
    return portal.get("/").content.decode()


def test_an_admin_azure_lets_only_read_is_not_offered_enable_and_is_told_why_once(portal, sandbox):
    page = _home(portal, sandbox, "frank")
    assert "Enable and edit JIT" not in page
    assert page.count("Enabling and editing JIT is not offered: Azure gives you read-only access to") == 1
    assert "rg-dev" in page and "rg-web" in page
    vms = portal.get("/vms/").content.decode()
    assert vms.count("read-only access") == 1 and "not allowed by Azure" not in vms
    assert "Edit, Remove JIT: Azure gives you read-only access to rg-dev, rg-shared, rg-sql and rg-web." in vms


def test_an_admin_azure_lets_write_is_offered_enable(portal, sandbox):
    page = _home(portal, sandbox, "bob")
    assert "Enable and edit JIT</a>" in page and "not offered" not in page
    assert '<a href="/access/approvals/">Approvals</a>' in page and "Open access" not in page


def test_someone_without_a_role_is_told_every_role_there_is(portal, sandbox):
    sign_in(portal, sandbox, "erin")
    page = portal.get("/")
    assert page.status_code == 403
    assert "JIT.Requester, JIT.Admin, JIT.Auditor, JIT.Approver" in page.content.decode()


def test_an_approvers_home_leads_to_approvals(portal, sandbox):
    page = _home(portal, sandbox, "hana")
    assert '<a href="/access/approvals/">Approvals</a> — decide on requests that wait for you' in page


def test_someone_azure_gives_no_subscription_is_not_sent_to_empty_tabs(portal, sandbox):
    page = _home(portal, sandbox, "dave")
    main = page.split("<main>", 1)[1]
    assert "Nothing yet: Azure gives you no subscriptions" in main
    assert 'href="/vms/"' not in main and 'href="/access/"' not in main
    vms = portal.get("/vms/").content.decode()
    assert "Azure gives you no subscriptions" in vms
    assert "Configured (0)" not in vms and "<table" not in vms
