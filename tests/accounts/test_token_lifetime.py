"""Tokens follow the sandbox clock: an expired access token refreshes silently, an expired refresh token
sends the person to sign in and back to the page they asked for."""

from __future__ import annotations

import pytest

from tests.conftest import sign_in
from tests.sandbox_client import query_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_it_refreshes_an_expired_access_token_silently(portal, sandbox):
    sign_in(portal, sandbox, "alice")
    assert portal.get("/").status_code == 200
    cache_before = portal.session["gateway.msal_cache"]
    sandbox.advance("PT2H")  # past the one-hour access token, well within the refresh token
    home = portal.get("/")
    assert home.status_code == 200
    assert {s.display_name for s in home.context["subscriptions"]} == {"Contoso Production", "Contoso Development"}
    assert portal.session["gateway.msal_cache"] != cache_before, "a new access token was cached"


def test_it_sends_the_person_to_sign_in_and_back_when_the_refresh_token_expired(portal, sandbox):
    sign_in(portal, sandbox, "alice")
    sandbox.advance("P2D")  # past the sandbox's one-day refresh token
    response = portal.get("/?view=mine")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in?")
    again = portal.get(response["Location"])
    assert again.status_code == 302 and again["Location"].startswith(sandbox.base_url)
    callback = sandbox.choose_account(again["Location"], "alice")
    landed = portal.get("/accounts/callback", query_of(callback))
    assert landed["Location"] == "/?view=mine"
    assert portal.get("/?view=mine").status_code == 200


def test_many_parallel_calls_with_an_expired_token_all_refresh_and_succeed(portal, sandbox):
    sign_in(portal, sandbox, "carol")
    assert len(portal.get("/vms/").context["inventory"].rows) == 41
    sandbox.advance("PT2H")
    portal.post("/vms/refresh")
    page = portal.get("/vms/")
    assert page.status_code == 200
    assert len(page.context["inventory"].rows) == 41 and not page.context["inventory"].failures
