"""Errors are application/problem+json (RFC 9457) in the OpenAPI document as on the wire, and a wrong method on an
API route is a 405 problem with `Allow`, not Django's HTML."""

from __future__ import annotations

import pytest
from django.test import Client

from api.problems import CONTENT_TYPE
from tests.conftest import PORTAL_HOST

pytestmark = pytest.mark.integration


def test_the_document_declares_every_error_as_problem_json(client, db):
    document = client.get("/api/v1/openapi.json").json()
    errors = {
        (path, method, status): sorted(answer.get("content", {}))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status[0] in "45"
    }
    assert len(errors) > 50 and set(map(tuple, errors.values())) == {(CONTENT_TYPE,)}
    ok = [
        sorted(a["content"])
        for ops in document["paths"].values()
        for op in ops.values()
        for status, a in op["responses"].items()
        if status.startswith("2") and a.get("content")
    ]
    assert ok and all(types == ["application/json"] for types in ok)  # answers themselves stay JSON
    schema = document["paths"]["/api/v1/requests"]["post"]["responses"]["422"]["content"][CONTENT_TYPE]["schema"]
    assert schema["$ref"].endswith("/ProblemOut")


def test_what_the_api_sends_matches_what_the_document_declares(client, db, api_for):
    for answer in (
        client.get("/api/v1/vms"),
        api_for("alice").post("/requests", {"vms": []}),
        api_for("alice").get("/requests/999999"),
    ):
        assert answer.status_code in (401, 404, 422) and answer["Content-Type"] == CONTENT_TYPE


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/api/v1/requests/1/end", "POST"),
        ("delete", "/api/v1/requests", "GET, POST"),
        ("put", "/api/v1/me", "GET"),
        ("post", "/api/v1/items/1/end", None),
    ],
)
def test_a_wrong_method_is_a_405_problem_with_allow(client, db, method, path, allowed):
    answer = getattr(client, method)(path)
    if allowed is None:  # the right method: not a 405 (here a 401, for want of a token)
        assert answer.status_code == 401
        return
    assert answer.status_code == 405 and answer["Content-Type"] == CONTENT_TYPE
    assert sorted(answer["Allow"].split(", ")) == sorted(allowed.split(", "))
    body = answer.json()
    assert body["status"] == 405 and body["type"].endswith("/method-not-allowed")
    assert body["detail"] == f"This route takes {answer['Allow']}, not {method.upper()}."


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/v1/docs"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_document_and_its_page_answer_a_write_with_a_405_problem(db, method, path):
    # As a browser or script sends it, with Django's CSRF check on: it answered an HTML 403 (CSRF failure).
    answer = getattr(Client(enforce_csrf_checks=True, HTTP_HOST=PORTAL_HOST), method)(path)
    assert answer.status_code == 405 and answer["Content-Type"] == CONTENT_TYPE
    assert sorted(answer["Allow"].split(", ")) == ["GET", "HEAD"]
    assert Client(HTTP_HOST=PORTAL_HOST).get(path).status_code == 200
