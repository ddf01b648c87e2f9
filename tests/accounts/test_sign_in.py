"""Sign-in through the real MSAL flow against the sandbox, landing on the home page."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from accounts.models import User
from tests.conftest import PORTAL_HOST, sign_in
from tests.sandbox_client import query_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _allowed_subscription_names(sandbox, user_key: str) -> set[str]:
    info = sandbox.info()
    person = next(p for p in info["people"] if p["username"].startswith(user_key + "@"))
    names = {s["id"]: s["name"] for s in info["subscriptions"]}
    return {names[a["scope"].split("/")[2]] for a in person["role_assignments"]}


@pytest.mark.parametrize("user_key", ["alice", "bob", "carol", "frank", "grace"])
def test_it_shows_each_person_exactly_the_subscriptions_azure_allows(portal, sandbox, user_key):
    response = sign_in(portal, sandbox, user_key)
    assert response.status_code == 302 and response["Location"] == "/"
    home = portal.get("/")
    assert home.status_code == 200
    shown = {s.display_name for s in home.context["subscriptions"]}
    expected = _allowed_subscription_names(sandbox, user_key)
    assert expected, "every person in this list has some Azure role"
    assert shown == expected
    for name in expected:
        assert name in home.content.decode()


def test_it_tells_dave_that_azure_gives_him_no_subscriptions(portal, sandbox):
    sign_in(portal, sandbox, "dave")
    home = portal.get("/")
    assert home.status_code == 200
    assert "Azure gives you no subscriptions" in home.content.decode()


def test_it_tells_erin_she_has_no_role_in_the_portal(portal, sandbox):
    sign_in(portal, sandbox, "erin")
    home = portal.get("/")
    assert home.status_code == 403
    assert "You have no role in this portal" in home.content.decode()
    assert portal.get("/vms/").status_code == 403


def test_it_keys_the_user_by_tenant_and_object_id_and_maps_roles(portal, sandbox):
    sign_in(portal, sandbox, "bob")
    bob = User.objects.get(upn="bob@contoso.test")
    bob_info = next(p for p in sandbox.info()["people"] if p["username"] == "bob@contoso.test")
    assert (bob.tenant_id, bob.object_id) == (sandbox.info()["tenant_id"], bob_info["object_id"])
    assert list(bob.groups.values_list("name", flat=True)) == ["JIT.Admin"]
    from trail.models import AuditEvent

    event = AuditEvent.objects.get(action="sign-in")
    assert (event.actor, event.outcome, event.details["roles"]) == (bob, "succeeded", ["JIT.Admin"])


def test_it_removes_a_role_that_entra_removed_between_sign_ins(portal, sandbox):
    sign_in(portal, sandbox, "bob")
    assert portal.get("/").status_code == 200
    sandbox.control("POST", "people/bob/roles", {"roles": ["JIT.Auditor"]})
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "bob")
    bob = User.objects.get(upn="bob@contoso.test")
    assert list(bob.groups.values_list("name", flat=True)) == ["JIT.Auditor"]
    sandbox.control("POST", "people/bob/roles", {"roles": []})
    portal.post("/accounts/sign-out")
    sign_in(portal, sandbox, "bob")
    assert portal.get("/").status_code == 403
    assert not bob.groups.exists()


def test_it_returns_to_the_page_asked_for(portal, sandbox):
    response = sign_in(portal, sandbox, "carol", next_url="/audit/?from=2026-01-01")
    assert response["Location"] == "/audit/?from=2026-01-01"


@pytest.mark.parametrize(
    "evil",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://127.0.0.1:8000@evil.example/",
    ],
)
def test_it_refuses_to_redirect_off_the_portal(portal, sandbox, evil):
    response = sign_in(portal, sandbox, "alice", next_url=evil)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_it_shows_a_clear_page_for_a_tampered_state(portal, sandbox):
    start = portal.get("/accounts/sign-in")
    callback = sandbox.choose_account(start["Location"], "alice")
    query = query_of(callback)
    query["state"] = "tampered" + query["state"]
    response = portal.get("/accounts/callback", query)
    assert response.status_code == 400
    assert "did not match" in response.content.decode()
    assert "Try again" in response.content.decode()
    assert "_auth_user_id" not in portal.session


def test_it_shows_a_clear_page_when_consent_is_denied(portal, sandbox):
    start = portal.get("/accounts/sign-in")
    http = sandbox.http()
    page = http.get(start["Location"], timeout=10)
    import re

    carried = re.search(r"name='request' value='([^']*)'", page.text).group(1).replace("&amp;", "&")
    denied = http.post(
        start["Location"].split("?")[0], data={"request": carried, "cancel": "1"}, allow_redirects=False, timeout=10
    )
    response = portal.get("/accounts/callback", query_of(denied.headers["Location"]))
    assert response.status_code == 400
    assert "declined to consent" in response.content.decode()


def test_it_refuses_a_callback_replayed_after_use(portal, sandbox):
    start = portal.get("/accounts/sign-in")
    callback = query_of(sandbox.choose_account(start["Location"], "alice"))
    assert portal.get("/accounts/callback", callback).status_code == 302
    again = portal.get("/accounts/callback", callback)
    assert again.status_code == 400
    assert "already used" in again.content.decode()


def test_it_shows_a_clear_page_when_the_authority_is_unreachable(portal, db):
    with override_settings(AZURE_AUTHORITY="https://127.0.0.1:9/nowhere"):
        response = portal.get("/accounts/sign-in")
    assert response.status_code == 502
    assert "could not be reached" in response.content.decode()


def test_sign_out_needs_post_with_csrf_and_ends_at_the_authority(sandbox, db):
    client = Client(HTTP_HOST=PORTAL_HOST, enforce_csrf_checks=True)
    sign_in(client, sandbox, "alice")
    assert client.get("/accounts/sign-out").status_code == 405
    assert client.post("/accounts/sign-out").status_code == 403  # no CSRF token
    assert client.get("/").status_code == 200
    token = client.get("/").context["csrf_token"]
    response = client.post("/accounts/sign-out", {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{sandbox.base_url}/")
    assert "/oauth2/v2.0/logout?post_logout_redirect_uri=" in response["Location"]
    assert client.get("/").status_code == 302  # signed out here too


def test_signing_in_on_a_second_browser_keeps_the_first_signed_in(sandbox, db):
    first, second = Client(HTTP_HOST=PORTAL_HOST), Client(HTTP_HOST=PORTAL_HOST)
    sign_in(first, sandbox, "carol")
    sign_in(second, sandbox, "carol")
    assert first.get("/").status_code == 200 and second.get("/").status_code == 200
