"""The team shape on one machine: gunicorn instances of the portal on one PostgreSQL and one Redis, beside the
sandbox, and people using them over real HTTP (the sandbox's account chooser for sign-in, CSRF tokens from
the pages). Used by the two-instance tests and by `make loadtest`."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from sandbox.publish import environment
from tests.sandbox_client import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
# What `.ci/run` provides; point these elsewhere to use another server.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://jitportal:jitportal@127.0.0.1:5432/jitportal")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
MY_IP = "203.0.113.50"  # the people's browsers, behind the trusted proxy in front of the instances


def unreachable() -> str | None:
    """Why PostgreSQL or Redis cannot be used, or None when both answer."""
    import psycopg
    import redis

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"PostgreSQL at {urlsplit(POSTGRES_URL).netloc.rpartition('@')[2]} is not reachable ({error})"
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except redis.RedisError as error:
        return f"Redis at {urlsplit(REDIS_URL).netloc} is not reachable ({error})"
    return None


def fresh_database() -> str:
    """An empty database of this run's own (runs may overlap on one server); its URL."""
    import psycopg

    name = f"jitportal_team_{os.getpid()}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {urlsplit(url).path.lstrip('/')} WITH (FORCE)")


def team_environment(sandbox: SandboxProcess, database_url: str) -> dict[str, str]:
    """Production settings as a deployment sets them, for plain HTTP on loopback."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "AZURE_", "SANDBOX_", "DATABASE_", "REDIS_", "WEB_", "BIND"))
    }
    return {
        **kept,
        **environment(sandbox.base_url, sandbox.ca_path),
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": f"jitportal-test-{os.getpid()}",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # the same for every instance: sessions are shared
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # TLS would end at the load balancer; here there is none.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "TRUSTED_PROXIES": "127.0.0.1",
        "LOG_LEVEL": "INFO",
    }


def prepare(env: dict[str, str]) -> None:
    """What `make prod` does before gunicorn: migrations and static files."""
    for command in (["migrate", "--no-input", "-v", "0"], ["collectstatic", "--no-input", "-v", "0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=120)


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """Kill the whole instance at once (master and workers), as a crashed machine would stop."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def start_instance(
    name: str, port: int, env: dict[str, str], log_dir: Path, workers: int = 1, threads: int = 8
) -> Instance:
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:  # a restarted instance adds to its log
        process = subprocess.Popen(
            [str(GUNICORN), "--config", "jitportal/gunicorn.conf.py", "jitportal.wsgi"],
            cwd=ROOT,
            env={**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers), "WEB_THREADS": str(threads)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # its own group, to kill it whole
    instance = Instance(name, port, process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"instance {name} exited:\n{log_path.read_text()[-3000:]}"
        try:
            if requests.get(f"{instance.url}/healthz", timeout=5).status_code == 200:
                return instance
        except requests.RequestException:  # not listening yet, or too busy starting to answer in time
            pass
        time.sleep(0.2)
    instance.stop()
    raise RuntimeError(f"instance {name} did not answer within 30 s")


class Person:
    """One browser: cookies for 127.0.0.1 (any port, so any instance), the page's CSRF token on each form."""

    def __init__(self, sandbox: SandboxProcess) -> None:
        self.sandbox = sandbox
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["X-Forwarded-For"] = MY_IP

    def sign_in(self, instance: Instance, user_key: str) -> None:
        start = self.http.get(
            f"{instance.url}/accounts/sign-in", params={"next": "/"}, allow_redirects=False, timeout=30
        )
        assert start.status_code == 302, start.text[:500]
        callback = self.sandbox.choose_account(start.headers["Location"], user_key)
        done = self.http.get(callback, allow_redirects=False, timeout=30)
        assert done.status_code == 302 and "/accounts/" not in done.headers["Location"], done.text[:500]

    def get(self, instance: Instance, path: str, **params) -> requests.Response:
        return self.http.get(f"{instance.url}{path}", params=params, timeout=60)

    def post(self, instance: Instance, path: str, data: dict, page: requests.Response) -> requests.Response:
        """Send a form as the page `page` offered it (its CSRF token)."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return self.http.post(
            f"{instance.url}{path}",
            data={"csrfmiddlewaretoken": token, **data},
            timeout=90,
            headers={"Referer": f"{instance.url}{path}"},
        )


def hidden(page: requests.Response, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
