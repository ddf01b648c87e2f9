"""Only an Entra access token for the portal's API, acting for a person, opens /api/v1: every other token is
refused with 401 or 403 (never a 500), and a session cookie opens nothing."""

from __future__ import annotations

import jwt
import pytest

from sandbox import demo
from tests.api.conftest import Api, api_token, made_token, now, stranger_key
from tests.azure_view import auth_code_result, msal_app
from tests.conftest import sign_in

pytestmark = pytest.mark.integration
OTHER_TENANT = "11111111-2222-4333-8444-555555555555"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    return body


def test_a_token_for_the_api_names_the_person_and_their_roles(api_for):
    answer = api_for("alice").get("/me")
    assert answer.status_code == 200, answer.content
    assert answer.json() | {"object_id": ""} == {
        "tenant_id": demo.TENANT_ID,
        "object_id": "",
        "username": "alice@contoso.test",
        "display_name": "Alice Archer",
        "roles": ["JIT.Requester"],
        "channel": "api",
    }


def test_no_token_is_401_with_a_bearer_challenge(client, db):
    answer = client.get("/api/v1/me")
    _problem(answer, 401)
    assert answer["WWW-Authenticate"].startswith("Bearer ")


def test_a_signed_in_browser_session_opens_nothing(portal, sandbox, db):
    sign_in(portal, sandbox, "alice")
    assert portal.get("/vms/").status_code == 200  # the session works on the pages…
    _problem(portal.get("/api/v1/me"), 401)  # …and not on the API
    _problem(portal.post("/api/v1/requests", {}, content_type="application/json"), 401)


def _bad_tokens(sandbox) -> dict[str, tuple[str, int]]:
    arm_token = auth_code_result(sandbox, "alice")[0]["access_token"]
    app_only = msal_app(sandbox).acquire_token_for_client([f"api://{demo.CLIENT_ID}/.default"])["access_token"]
    real = api_token(sandbox, "alice")
    claims = jwt.decode(real, options={"verify_signature": False})
    return {
        "expired": (made_token(sandbox, {"exp": now() - 600, "nbf": now() - 4200, "iat": now() - 4200}), 401),
        "not yet valid": (made_token(sandbox, {"nbf": now() + 3600, "iat": now() + 3600, "exp": now() + 7200}), 401),
        "wrong audience (an ARM token)": (arm_token, 401),
        "wrong audience (signed)": (made_token(sandbox, {"aud": "https://graph.microsoft.com"}), 401),
        "wrong tenant": (
            made_token(sandbox, {"tid": OTHER_TENANT, "iss": claims["iss"].replace(demo.TENANT_ID, OTHER_TENANT)}),
            401,
        ),
        "wrong tenant, right issuer": (made_token(sandbox, {"tid": OTHER_TENANT}), 401),
        "wrong issuer": (made_token(sandbox, {"iss": "https://login.example.invalid/x/v2.0"}), 401),
        "no expiry": (made_token(sandbox, drop=("exp",)), 401),
        "missing scope": (made_token(sandbox, {"scp": "User.Read"}), 403),
        "app-only (no scp)": (app_only, 403),
        "app-only, made": (made_token(sandbox, {"idtyp": "app"}, drop=("scp",)), 403),
        "forged signature (another key, same kid)": (made_token(sandbox, key=stranger_key()), 401),
        "unknown kid": (made_token(sandbox, kid="not-a-published-key"), 401),
        "alg none": (jwt.encode(claims, None, algorithm="none"), 401),
        "alg HS256 with the public key's bytes": (
            jwt.encode(claims, "a" * 64, algorithm="HS256", headers={"kid": jwt.get_unverified_header(real)["kid"]}),
            401,
        ),
        "tampered payload": (
            ".".join(
                [real.split(".")[0], jwt.encode({**claims, "oid": "x"}, "k" * 32).split(".")[1], real.split(".")[2]]
            ),
            401,
        ),
        "garbage": ("not.a.token", 401),
        "empty-ish": ("x", 401),
    }


def test_every_bad_token_is_401_or_403_and_never_reaches_azure(sandbox, db):
    for name, (token, status) in _bad_tokens(sandbox).items():
        sandbox.control("POST", "stats")
        for path in ("/me", "/vms", "/access"):
            answer = Api(token).get(path)
            body = _problem(answer, status)
            assert answer["WWW-Authenticate"].startswith("Bearer error="), name
            assert ("insufficient_scope" if status == 403 else "invalid_token") in answer["WWW-Authenticate"], name
            assert body["detail"], name
        assert Api(token).post("/requests", {"vms": ["x"], "duration_minutes": 60}).status_code == status, name
        assert sandbox.control("GET", "stats")["total"] == 0, name


def test_an_app_only_token_says_why(sandbox, db):
    app_only = msal_app(sandbox).acquire_token_for_client([f"api://{demo.CLIENT_ID}/.default"])["access_token"]
    body = _problem(Api(app_only).get("/vms"), 403)
    assert "acts only for a signed-in person" in body["detail"]


def test_a_role_the_token_lacks_is_403_in_the_pages_words(api_for):
    body = _problem(api_for("erin").get("/vms"), 403)  # signed in with no portal role
    assert body["detail"].startswith("This needs the portal role JIT.") and body["detail"].endswith("; yours: none.")
    assert _problem(api_for("hana").get("/access"), 403)["detail"] == (
        "This needs the portal role JIT.Requester; yours: JIT.Approver."
    )  # what `jit status` says to an approver
    _problem(api_for("alice").get("/audit/events"), 403)
    _problem(api_for("carol").post("/requests", {"vms": ["x"], "duration_minutes": 60}), 403)


def test_the_roles_come_from_each_token(sandbox, api_for):
    assert api_for("alice").get("/me").json()["roles"] == ["JIT.Requester"]
    sandbox.control("POST", "people/alice/roles", {"roles": ["JIT.Auditor"]})
    fresh = Api(api_token(sandbox, "alice"))
    assert fresh.get("/me").json()["roles"] == ["JIT.Auditor"]
    assert fresh.get("/access").status_code == 403 and fresh.get("/audit/events").status_code == 200


def test_keys_are_refetched_for_an_unknown_kid_at_most_once_a_minute(sandbox, api_for, monkeypatch):
    from core.gateway import bearer

    calls = []
    fetch = bearer._Keys._fetch
    monkeypatch.setattr(bearer._Keys, "_fetch", lambda self: (calls.append(1), fetch(self))[1])
    keys = bearer._Keys()
    monkeypatch.setattr(bearer, "_keys", keys)
    alice = api_for("alice")
    assert alice.get("/me").status_code == 200 and len(calls) == 1
    assert Api(made_token(sandbox, kid="rotated-away")).get("/me").status_code == 401
    assert len(calls) == 1  # the keys were read a moment ago: a made-up kid does not fetch them again
    keys.fetched_at -= bearer.REFETCH_SECONDS + 1
    for _ in range(5):
        assert Api(made_token(sandbox, kid="rotated-away")).get("/me").status_code == 401
    assert len(calls) == 2  # one refetch for the unknown kid, not five
    assert alice.get("/me").status_code == 200 and len(calls) == 2  # the known kid: from memory


def test_the_token_an_api_call_acts_with_never_shows_in_a_repr(sandbox, db):
    from django.test import RequestFactory

    from api.auth import EntraBearer

    token = api_token(sandbox, "alice")
    who = EntraBearer().authenticate(RequestFactory().get("/api/v1/me"), token)
    assert token not in repr(who) and token not in str(who.session)


def test_a_cookie_sent_along_with_a_token_is_left_alone(portal, sandbox, api_for):
    """A browser trying the API (the reference page) sends its session cookie too: the answer is the token's
    person's, and the session's person keeps their roles and their session."""
    from django.contrib.auth import get_user_model

    sign_in(portal, sandbox, "bob")
    alice_token = api_for("alice").headers["HTTP_AUTHORIZATION"]
    answer = portal.get("/api/v1/me", HTTP_AUTHORIZATION=alice_token)
    assert answer.status_code == 200 and answer.json()["username"] == "alice@contoso.test"
    bob = get_user_model().objects.get(upn="bob@contoso.test")
    alice = get_user_model().objects.get(upn="alice@contoso.test")
    assert set(bob.groups.values_list("name", flat=True)) == {"JIT.Admin"}
    assert set(alice.groups.values_list("name", flat=True)) == {"JIT.Requester"}
    assert portal.get("/vms/").status_code == 200  # Bob's session goes on


# Who may call what (the pages' roles): True — the role lets them in (the answer may still be 404 or 422 for the
# made-up request 999999 or an empty body); False — 403 before anything else.
ROLE_MATRIX = {
    ("GET", "/vms"): {"alice": True, "bob": True, "carol": True, "hana": True, "erin": False},
    ("GET", "/requests"): {"alice": True, "bob": False, "carol": False, "hana": False, "erin": False},
    ("GET", "/access"): {"alice": True, "bob": False, "carol": False, "hana": False, "erin": False},
    ("GET", "/requests/999999"): {"alice": True, "bob": True, "carol": True, "hana": True, "erin": False},
    ("GET", "/approvals"): {"alice": False, "bob": True, "carol": False, "hana": True, "erin": False},
    ("GET", "/rules"): {"alice": False, "bob": True, "carol": False, "hana": True, "erin": False},
    ("GET", "/audit/events"): {"alice": False, "bob": True, "carol": True, "hana": False, "erin": False},
    ("GET", "/audit/report"): {"alice": False, "bob": True, "carol": True, "hana": False, "erin": False},
    ("POST", "/requests"): {"alice": True, "bob": False, "carol": False, "hana": False, "erin": False},
    ("POST", "/requests/999999/extend"): {"alice": True, "bob": False, "carol": False, "hana": False, "erin": False},
    ("POST", "/requests/999999/end"): {"alice": True, "bob": True, "carol": False, "hana": True, "erin": False},
    ("POST", "/requests/999999/cancel"): {"alice": True, "bob": False, "carol": False, "hana": False, "erin": False},
    ("POST", "/requests/999999/decision"): {"alice": False, "bob": False, "carol": False, "hana": True, "erin": False},
    ("POST", "/requests/999999/open"): {"alice": False, "bob": False, "carol": False, "hana": True, "erin": False},
}
BODIES = {
    "/requests": {"vms": [], "duration_minutes": 60},
    "/requests/999999/extend": {"duration_minutes": 60},
    "/requests/999999/decision": {"decision": "approve"},
}


def test_each_role_reaches_what_the_pages_let_it_and_nothing_else(api_for):
    for (method, path), allowed in ROLE_MATRIX.items():
        for person, may in allowed.items():
            api = api_for(person)
            answer = api.get(path) if method == "GET" else api.post(path, BODIES.get(path, {}))
            assert (answer.status_code != 403) == may, (method, path, person, answer.status_code, answer.content[:200])
            assert answer.status_code < 500
