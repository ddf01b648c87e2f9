"""Fixtures and steps every test folder shares: the sandbox process, the portal's test client, signing a
demo person in, Azure's own view of the sandbox, and the request form filled as a person would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.azure_view import AzureView, Clients, auth_code_result
from tests.notify_servers import smtp_server, webhook_receiver  # noqa: F401 - fixtures for every test folder
from tests.sandbox_client import SandboxProcess, query_of, start

PORTAL_HOST = "127.0.0.1:8000"  # the sandbox accepts any loopback redirect URI
MY_IP = "203.0.113.50"  # where the requester's browser comes from in request tests


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


@pytest.fixture
def alice(signed_in) -> Client:
    return signed_in("alice")


@pytest.fixture
def bob(signed_in) -> Client:
    return signed_in("bob")


@pytest.fixture
def view(sandbox) -> AzureView:
    """Azure as Bob sees it (he may read everything), through Azure's own clients."""
    return AzureView(sandbox, "bob")


def fill(client: Client, ids: list[str], ports=(22,), **answers) -> dict:
    """The request form for `ids`, answered: `ports` ticked, My IP, one hour, a justification."""
    form = client.get("/access/new", {"vm": ids}).context["form"]
    data = {
        "vm": ids,
        "request_key": form["request_key"].value(),
        "source": "my-ip",
        "duration_value": "1",
        "duration_unit": "hours",
        "justification": "Deploying hotfix 4.2.2",
        **answers,
    }
    data.update({c.field_name: "on" for c in form.choices if c.port.number in ports})
    return data


def submit(client: Client, data: dict):
    return client.post("/access/new", data, REMOTE_ADDR=MY_IP)


def save_edit(client: Client, url: str, data: dict, **options):
    """An Edit form's POST that takes ports away is answered with a page listing them (#23); confirm it, as the
    person would, and return the answer to the confirmation (the answer itself when nothing was removed)."""
    page = client.post(url, data, **options)
    listed = next((c["listed"] for c in (page.context or ()) if "listed" in c), None) if page.context else None
    if listed is None or page.status_code != 200:
        return page
    return client.post(url, {**data, "confirm_removal": listed}, **options)


@pytest.fixture
def token_for(sandbox):
    cache: dict[str, str] = {}

    def get(user_key: str, fresh: bool = False) -> str:
        if fresh or user_key not in cache:
            result, _, _ = auth_code_result(sandbox, user_key)
            cache[user_key] = result["access_token"]
        return cache[user_key]

    return get


@pytest.fixture
def clients_for(sandbox, token_for):
    return lambda user_key, fresh=False: Clients(sandbox, token_for(user_key, fresh))


@pytest.fixture
def subs(sandbox) -> dict[str, str]:
    """Subscription ids by display name's last word: prod, dev, shared, legacy."""
    names = {
        "Contoso Production": "prod",
        "Contoso Development": "dev",
        "Contoso Shared Services": "shared",
        "Contoso Legacy Apps": "legacy",
    }
    return {names[s["name"]]: s["id"] for s in sandbox.info()["subscriptions"]}


# --- The browser: Playwright driving the Debian Chromium at /usr/bin/chromium (never a downloaded browser) --------
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# Playwright's sync API runs an event loop in this thread; Django's ORM refuses that unless told.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip("SKIPPED LOUDLY: " + message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()
