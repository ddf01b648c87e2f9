from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.sandbox_client import SandboxProcess, query_of, start

PORTAL_HOST = "127.0.0.1:8000"  # the sandbox accepts any loopback redirect URI


@pytest.fixture(autouse=True)
def no_cached_inventories():
    """Each test starts with no cached inventory (user ids repeat across tests)."""
    from django.core.cache import cache

    from vms.inventory import forget

    cache.clear()
    forget()
    yield
    forget()


@pytest.fixture(scope="session")
def sandbox_process() -> SandboxProcess:
    sandbox = start(settings.TEST_SANDBOX_PORT, settings.SANDBOX_DATA_DIR)
    yield sandbox
    sandbox.process.terminate()
    sandbox.process.wait(timeout=10)


@pytest.fixture
def sandbox(sandbox_process: SandboxProcess) -> SandboxProcess:
    """The sandbox, reset to its seed for each test."""
    sandbox_process.reset()
    return sandbox_process


@pytest.fixture
def portal() -> Client:
    return Client(HTTP_HOST=PORTAL_HOST)


def sign_in(client: Client, sandbox: SandboxProcess, user_key: str, next_url: str = "/"):
    """Sign a demo person in through the real MSAL flow; return the portal's response to the callback."""
    start_response = client.get("/accounts/sign-in", {"next": next_url})
    assert start_response.status_code == 302, start_response.content
    callback = sandbox.choose_account(start_response["Location"], user_key)
    assert callback.startswith(f"http://{PORTAL_HOST}/accounts/callback"), callback
    return client.get("/accounts/callback", query_of(callback))


@pytest.fixture
def signed_in(portal: Client, sandbox: SandboxProcess, db):
    def as_person(user_key: str) -> Client:
        response = sign_in(portal, sandbox, user_key)
        assert response.status_code == 302, response.content
        return portal
    return as_person
