"""Load balancers' probes answer without sign-in or detail; every log line is one JSON object naming the
request and the person, and none carries a token, a secret or a cookie."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.conf import settings
from django.test import Client, override_settings

from core.logs import JsonFormatter
from requests_app.models import AccessRequestItem
from tests.conftest import PORTAL_HOST, fill, submit
from tests.sandbox_client import query_of


def test_healthz_answers_at_any_address_without_the_database():
    # No django_db mark: pytest-django fails any database access here.
    answer = Client(HTTP_HOST="10.20.30.40:8000").get("/healthz")  # a probe uses the instance's own address
    assert (answer.status_code, answer.content) == (200, b"ok\n")
    assert "no-store" in answer["Cache-Control"]


def test_probes_take_only_get_and_head():
    assert Client().post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_with_database_cache_and_authority(sandbox_process):
    answer = Client(HTTP_HOST="10.20.30.40:8000").get("/readyz")
    assert (answer.status_code, answer.content) == (200, b"ok\n")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "broken",
    [
        {"AZURE_AUTHORITY": "https://127.0.0.1:9/no-such-tenant"},
        {
            "CACHES": {
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": "redis://127.0.0.1:9/0",
                }
            }
        },
    ],
)
def test_readyz_says_unavailable_and_nothing_more(sandbox_process, broken):
    with override_settings(**broken):
        answer = Client().get("/readyz")
    assert (answer.status_code, answer.content) == (503, b"unavailable\n")


@pytest.fixture
def log_lines():
    """What the portal logs during the test, formatted as on stdout."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: stream.getvalue().splitlines()
    root.removeHandler(handler)


@pytest.mark.django_db
def test_each_request_logs_one_json_line_with_the_person_and_azures_correlation_id(sandbox, view, log_lines):
    portal = Client(HTTP_HOST=PORTAL_HOST)
    start = portal.get("/accounts/sign-in", {"next": "/"})
    callback = sandbox.choose_account(start["Location"], "alice")
    assert portal.get("/accounts/callback", query_of(callback)).status_code == 302
    assert submit(portal, fill(portal, [view.vm_id("Contoso Production", "rg-web", "web-02")])).status_code == 302

    lines = log_lines()
    records = [json.loads(line) for line in lines]
    posted = next(r for r in records if r.get("method") == "POST" and r.get("path") == "/access/new")
    item = AccessRequestItem.objects.select_related("request__user").get()
    assert (posted["tid"], posted["oid"], posted["status"]) == (
        item.request.user.tenant_id,
        item.request.user.object_id,
        302,
    )
    assert posted["correlation_ids"] == [item.correlation_id]
    assert posted["request_id"] and posted["duration_ms"] >= 0

    text = "\n".join(lines)
    assert "eyJ" not in text, "a JWT (token) reached the log"
    forbidden = [
        query_of(callback)["code"],
        portal.cookies[settings.SESSION_COOKIE_NAME].value,
        portal.cookies[settings.CSRF_COOKIE_NAME].value,
        settings.AZURE_CLIENT_SECRET,
        settings.SECRET_KEY,
    ]
    assert [secret for secret in forbidden if secret in text] == []
