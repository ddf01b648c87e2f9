"""What every answer carries whatever the page: no caching of anything signed in, HEAD wherever GET is
allowed, and a refusal logged as one line."""

from __future__ import annotations

import io
import logging

import pytest

from tests.conftest import sign_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_signed_in_pages_and_csv_are_never_stored(portal, sandbox):
    assert "no-store" not in portal.get("/accounts/signed-out").get("Cache-Control", "")
    sign_in(portal, sandbox, "carol")
    for url in ("/", "/vms/", "/audit/", "/audit/report.csv", "/audit/trail.csv"):
        assert "no-store" in portal.get(url)["Cache-Control"], url


def test_get_pages_answer_head(portal, sandbox):
    sign_in(portal, sandbox, "bob")
    sub = [s["id"] for s in sandbox.info()["subscriptions"] if s["name"] == "Contoso Production"][0]
    for url in (
        "/",
        "/vms/",
        "/audit/",
        "/audit/trail",
        "/accounts/signed-out",
        "/vms/enable",
        f"/vms/{sub}/rg-web/web-01/jit/edit",
        f"/vms/{sub}/rg-web/web-01/jit/remove",
    ):
        response = portal.head(url)
        assert response.status_code == 200 and response.content == b"", url


def test_the_request_form_answers_head(portal, sandbox):
    sign_in(portal, sandbox, "alice")
    response = portal.head("/access/new")
    assert response.status_code == 200 and response.content == b""


def test_a_refusal_is_logged_as_one_line_without_a_traceback(portal, sandbox):
    sign_in(portal, sandbox, "alice")
    stream = io.StringIO()
    handlers = {
        h
        for name in ("", "django", "django.request")
        for h in logging.getLogger(name).handlers
        if type(h) is logging.StreamHandler
    }  # not pytest's own capturing handlers
    previous = {h: h.setStream(stream) for h in handlers}
    try:
        assert portal.get("/audit/").status_code == 403
    finally:
        for handler, old in previous.items():
            handler.setStream(old)
    refusals = [line for line in stream.getvalue().splitlines() if "Forbidden (Permission denied): /audit/" in line]
    assert len(refusals) == 1 and "Traceback" not in stream.getvalue(), stream.getvalue()


def test_a_head_on_a_csv_records_no_download(portal, sandbox):
    from trail.models import AuditEvent

    sign_in(portal, sandbox, "carol")
    for url in ("/audit/report.csv", "/audit/trail.csv"):
        assert portal.head(url).status_code == 200
    assert not AuditEvent.objects.filter(action="csv.download").exists()
    assert portal.get("/audit/trail.csv").status_code == 200
    assert AuditEvent.objects.filter(action="csv.download").count() == 1


def test_a_page_not_found_is_the_portals_own_even_under_debug(portal, sandbox, settings):
    """`make serve` runs with DJANGO_DEBUG=1; Django's technical 404 would list every URL pattern."""
    settings.DEBUG = True
    sign_in(portal, sandbox, "dave")
    sub = [s["id"] for s in sandbox.info()["subscriptions"] if s["name"] == "Contoso Production"][0]
    for url in ("/no/such/page/", "/vms/no/such/", f"/vms/{sub}/rg-web/web-01/", "/access/requests/999999/"):
        response = portal.get(url)
        page = response.content.decode()
        assert response.status_code == 404, url
        assert "<h1>Not found</h1>" in page and "URLconf" not in page and "vms-index" not in page, url
    assert portal.get("/access/approvals")["Location"] == "/access/approvals/"  # APPEND_SLASH still redirects
