"""Test settings: the portal's own settings, configured with what the test sandbox publishes.

conftest starts that sandbox on the port picked here; the portal gets its connection settings from
the environment, exactly as in a deployment (tests may import `sandbox`; the portal never does).
"""

import os
import socket
import tempfile
from pathlib import Path

from sandbox.publish import environment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SANDBOX_DATA_DIR = Path(tempfile.mkdtemp(prefix="jitportal-sandbox-"))
TEST_SANDBOX_PORT = _free_port()
# DATABASE_URL stays: `.ci/run` runs the database tests again with it pointing at PostgreSQL. REDIS_URL goes:
# the tests clear the cache between tests, which on Redis would empty someone's database.
for name in [
    n for n in os.environ if n.startswith("AZURE_") or n in ("DJANGO_SECRET_KEY", "DATABASE_PATH", "REDIS_URL")
]:
    os.environ.pop(name)
os.environ.update(
    {
        "DJANGO_DEBUG": "1",
        "AZURE_RETRIES": "2",
        **environment(f"https://127.0.0.1:{TEST_SANDBOX_PORT}", SANDBOX_DATA_DIR / "ca.pem"),
    }
)

from jitportal.settings import *  # noqa: E402,F401,F403

if DATABASE_URL:  # noqa: F405
    # pytest-django creates test_<name> (the role needs CREATEDB); no connection may outlive its test's
    # thread, or the test database could not be dropped at the end.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
else:
    DATABASES["default"]["NAME"] = str(SANDBOX_DATA_DIR / "portal.sqlite3")  # noqa: F405
    # A file, not shared-cache memory, so that concurrent writers meet SQLite's real (IMMEDIATE) locking.
    DATABASES["default"]["TEST"] = {"NAME": str(SANDBOX_DATA_DIR / "test-portal.sqlite3")}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Pages wait for the whole fleet (as before issue #27): a test reads the page it asked for, not the progress view,
# which tests/vms/test_graph_fleet.py asks for by setting this low.
INVENTORY_PROGRESS_SECONDS = 120

# The suite reads the fleet through Resource Graph (the newer path, with ARM's lists as its fallback); tests of the
# ARM lists set FLEET_SOURCE = "arm" themselves. The default for people is "arm" (see docs/architecture.md, #27).
FLEET_SOURCE = "graph"
