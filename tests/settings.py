"""Test settings: the portal's own settings, pointed at a sandbox that conftest starts on a free port."""

import os
import socket
import tempfile
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SANDBOX_DATA_DIR = Path(tempfile.mkdtemp(prefix="jitportal-sandbox-"))
TEST_SANDBOX_PORT = _free_port()
for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "DJANGO_SECRET_KEY"):
    os.environ.pop(name, None)
os.environ.update({
    "DJANGO_DEBUG": "1",
    "SANDBOX_PORT": str(TEST_SANDBOX_PORT),
    "SANDBOX_URL": f"https://127.0.0.1:{TEST_SANDBOX_PORT}",
    "SANDBOX_CA_BUNDLE": str(SANDBOX_DATA_DIR / "ca.pem"),
    "AZURE_RETRIES": "2",
})

from jitportal.settings import *  # noqa: E402,F401,F403

DATABASES["default"]["NAME"] = str(SANDBOX_DATA_DIR / "portal.sqlite3")  # noqa: F405
# A file, not shared-cache memory, so that concurrent writers meet SQLite's real (IMMEDIATE) locking.
DATABASES["default"]["TEST"] = {"NAME": str(SANDBOX_DATA_DIR / "test-portal.sqlite3")}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
