"""/.well-known/jit-portal.json: what the jit command reads to sign a person in, with nothing typed but the
portal's address."""

from __future__ import annotations

import pytest
from django.test import Client

from sandbox import demo


def test_it_publishes_tenant_authority_the_commands_client_scope_and_api(db):
    response = Client(HTTP_HOST="localhost:8070").get("/.well-known/jit-portal.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    document = response.json()
    assert document["tenant_id"] == demo.TENANT_ID and document["authority"].endswith(f"/{demo.TENANT_ID}")
    assert document["client_id"] == demo.CLI_CLIENT_ID
    assert document["scopes"] == [f"api://{demo.CLIENT_ID}/access_as_user"]
    assert document["api_base_url"] == "http://localhost:8070/api/v1/"
    assert document["instance_discovery"] is False and document["version"] == 1


def test_it_needs_no_sign_in_and_sets_no_cookie(db):
    response = Client().get("/.well-known/jit-portal.json")
    assert response.status_code == 200 and not response.cookies


def test_without_a_client_id_for_the_command_it_says_so(db, settings):
    settings.AZURE_CLI_CLIENT_ID = ""
    assert Client().get("/.well-known/jit-portal.json").json()["client_id"] is None


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_is_read_only(db, method):
    assert getattr(Client(), method)("/.well-known/jit-portal.json").status_code == 405
