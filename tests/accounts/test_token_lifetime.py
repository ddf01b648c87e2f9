"""Tokens follow the sandbox clock: an expired access token refreshes silently, an expired refresh token
sends the person to sign in and back to the page they asked for."""

from __future__ import annotations

import threading

import jwt
import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import PORTAL_HOST, sign_in
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


def test_a_role_removed_in_entra_id_is_lost_at_the_next_token_refresh_without_signing_in_again(portal, sandbox):
    sign_in(portal, sandbox, "alice")
    assert portal.get("/access/").status_code == 200
    sandbox.control("POST", "people/alice/roles", {"roles": []})
    assert portal.get("/access/").status_code == 200  # the access token still holds: nothing re-read yet
    sandbox.advance("PT2H")  # past the access token: the next call to Azure refreshes it, with a new ID token
    page = portal.get("/", follow=True)
    assert page.status_code == 403 and "no role in this portal" in page.content.decode()
    assert portal.get("/access/").status_code == 403
    assert "_auth_user_id" in portal.session, "still signed in: only the role went"


def test_a_role_added_in_entra_id_arrives_at_the_next_token_refresh(portal, sandbox):
    sign_in(portal, sandbox, "alice")
    sandbox.control("POST", "people/alice/roles", {"roles": ["JIT.Requester", "JIT.Auditor"]})
    sandbox.advance("PT2H")
    assert portal.get("/").status_code == 200
    assert portal.get("/audit/trail").status_code == 200


def test_a_session_older_than_its_absolute_lifetime_is_sent_to_sign_in(portal, sandbox, settings):
    sign_in(portal, sandbox, "alice")
    session = portal.session
    session["accounts.signed_in_at"] -= settings.SESSION_ABSOLUTE_SECONDS + 1
    session.save()
    response = portal.get("/access/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in?")
    assert "next=%2Faccess%2F" in response["Location"] and "_auth_user_id" not in portal.session
    assert settings.SESSION_ABSOLUTE_SECONDS == 12 * 3600


def test_a_session_within_its_absolute_lifetime_goes_on(portal, sandbox, settings):
    sign_in(portal, sandbox, "alice")
    session = portal.session
    session["accounts.signed_in_at"] -= settings.SESSION_ABSOLUTE_SECONDS - 60
    session.save()
    assert portal.get("/access/").status_code == 200


def test_one_msal_application_serves_everyone_each_with_their_own_tokens(sandbox, db):
    """One application per process (the secret or certificate read once); parallel refreshes of two people each
    see only their own cache."""
    from core.gateway import auth

    oids = {"alice": "a11ce000-0000-4000-8000-000000000001", "carol": "ca201000-0000-4000-8000-000000000003"}
    sessions = {}
    for name in oids:
        client = Client(HTTP_HOST=PORTAL_HOST)
        assert sign_in(client, sandbox, name).status_code == 302
        sessions[name] = dict(client.session.items())
    auth._apps.clear()
    sandbox.advance("PT2H")  # every token is refreshed through the application, none read from the session
    found: dict[str, set[str]] = {name: set() for name in oids}

    def refresh(name: str) -> None:
        credential = auth.UserCredential(sessions[name])
        for _ in range(3):
            credential.force_refresh()
            credential._refreshed_at = 0.0  # refresh again on the next turn
            found[name].add(
                jwt.decode(credential.get_token(settings.AZURE_ARM_SCOPE).token, options={"verify_signature": False})[
                    "oid"
                ]
            )

    threads = [threading.Thread(target=refresh, args=(name,)) for name in oids for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == {name: {oid} for name, oid in oids.items()}
    assert len(auth._apps) == 1
