"""`manage.py team` (what `make team` runs): a rehearsal of the team shape on one machine, in the foreground.

Two gunicorn instances of the portal (`make prod`'s, production settings) on one PostgreSQL and one Redis, a
background worker, and one address in front of them that hands each request to the next instance (a load
balancer's round robin; an instance that refuses the connection is skipped), against the local sandbox as
`make serve` starts it. The browser signs in at that one address over plain HTTP: TLS would end at a real load
balancer, so the rehearsal says so to the instances (no redirect to HTTPS, cookies without `Secure`), which is
the only way its settings differ from production's. Ctrl-C or SIGTERM stops everything.

README: "A rehearsal of the team shape" lists what it needs (PostgreSQL's role and database, Redis).
"""

from __future__ import annotations

import http.client
import itertools
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from django.conf import settings
from django.core.management.base import CommandError

from . import serve

DEFAULT_DATABASE_URL = "postgres://jitportal:jitportal@127.0.0.1:5432/jitportal"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Headers about one connection, not the request: a proxy does not pass them on.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


class Balancer(ThreadingHTTPServer):
    """One address in front of the instances: each request goes to the next one in turn."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, backends: list[int]) -> None:
        super().__init__(("127.0.0.1", port), _Forward)
        self.backends, self.turn = backends, itertools.count()


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: enough for a rehearsal, and no framing to redo
    server: Balancer

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        # What a load balancer tells the instance: who the browser is, and that it spoke plain HTTP. Host is kept,
        # so that the portal builds its own links (and the sign-in's redirect URI) with this address.
        seen = self.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{seen}, {self.client_address[0]}" if seen else self.client_address[0]
        headers["X-Forwarded-Proto"] = "http"
        first = next(self.server.turn)
        for step in range(len(self.server.backends)):
            port = self.server.backends[(first + step) % len(self.server.backends)]
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
            except OSError:  # down: the request never reached it, so the next one may take it
                connection.close()
                continue
            try:
                self._relay(connection.getresponse(), port)
            finally:
                connection.close()
            return
        self.send_error(502, "No instance of the portal answered.")

    def _relay(self, answer: http.client.HTTPResponse, port: int) -> None:
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("X-Served-By", f"127.0.0.1:{port}")  # which instance answered, for whoever wonders
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            while chunk := answer.read(64 * 1024):  # a CSV streams through as it is made
                self.wfile.write(chunk)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = _forward

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        pass  # each instance logs its requests as JSON


def secret_key(directory: Path) -> str:
    """The rehearsal's DJANGO_SECRET_KEY, the same for every instance and kept across runs (sessions survive)."""
    path = directory / "secret_key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


def team_environment(port: int, sandbox: dict[str, str], directory: Path) -> dict[str, str]:
    """Production settings, as every instance and worker of a team gets them, for plain HTTP on this machine."""
    kept = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
    return {
        **kept,
        **sandbox,
        "DATABASE_URL": os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        "REDIS_URL": os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        "DJANGO_SECRET_KEY": secret_key(directory),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORTAL_URL": f"http://127.0.0.1:{port}",
        "TRUSTED_PROXIES": "127.0.0.1",
        # TLS would end at the load balancer; this one speaks plain HTTP on loopback, and says so.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
    }


def unreachable(environment: dict[str, str]) -> str | None:
    """Why PostgreSQL or Redis cannot be used, in words that say where to look; None when both answer."""
    import psycopg
    import redis

    try:
        psycopg.connect(environment["DATABASE_URL"], connect_timeout=3).close()
    except psycopg.Error as error:
        return f"PostgreSQL does not answer at DATABASE_URL ({str(error).strip().splitlines()[0]})."
    try:
        redis.Redis.from_url(environment["REDIS_URL"], socket_timeout=3).ping()
    except redis.RedisError as error:
        return f"Redis does not answer at REDIS_URL ({error})."
    return None


class Command(serve.Command):
    help = "Rehearse the team shape here: two instances behind one address, a worker, PostgreSQL, Redis, the sandbox."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("TEAM_PORT", "8080")),
            help="the one address (the instances take the next two ports)",
        )

    def handle(self, *args, port: int, **options) -> None:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        serve.die_with_parent()
        children: list[subprocess.Popen] = []
        balancer: Balancer | None = None
        try:
            environment = team_environment(port, self._sandbox(children), Path(settings.BASE_DIR) / "var" / "team")
            if problem := unreachable(environment):
                raise CommandError(f"{problem} See the README: A rehearsal of the team shape.")
            self._release(environment)
            ports = [port + 1, port + 2]
            children += [self._instance(p, environment) for p in ports]
            children.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "db_worker", "--no-reload", "--verbosity", "0"],
                    cwd=settings.BASE_DIR,
                    env=environment,
                )
            )
            self._wait_healthy(ports, children)
            balancer = Balancer(port, ports)
            threading.Thread(target=balancer.serve_forever, daemon=True).start()
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nThe team shape is at http://127.0.0.1:{port}/ (instances on "
                    f"{ports[0]} and {ports[1]}, one worker). Press Ctrl-C to stop.\n"
                )
            )
            while all(child.poll() is None for child in children):
                time.sleep(1)
            raise CommandError("A process of the team stopped; stopping the others (its output is above).")
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if balancer is not None:
                balancer.shutdown()
                balancer.server_close()
            for child in reversed(children):
                serve._stop(child)

    def _release(self, environment: dict[str, str]) -> None:
        """What a deployment runs once before its instances start: migrations, static files, the housekeeping."""
        for command in (
            ["migrate", "--no-input", "-v", "0"],
            ["collectstatic", "--no-input", "-v", "0"],
            ["schedule_housekeeping", "-v", "0"],
        ):
            subprocess.run(
                [sys.executable, "manage.py", *command], cwd=settings.BASE_DIR, env=environment, check=True, timeout=300
            )

    def _instance(self, port: int, environment: dict[str, str]) -> subprocess.Popen:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        return subprocess.Popen(
            [str(gunicorn), "--config", "jitportal/gunicorn.conf.py", "jitportal.wsgi"],
            cwd=settings.BASE_DIR,
            env={
                **environment,
                "BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": environment.get("WEB_CONCURRENCY", "1"),
            },
        )

    def _wait_healthy(self, ports: list[int], children: list[subprocess.Popen]) -> None:
        deadline = time.monotonic() + 60
        waiting = set(ports)
        http = requests.Session()
        http.trust_env = False  # straight to loopback, whatever proxy the environment names
        while waiting and time.monotonic() < deadline:
            if any(child.poll() is not None for child in children):
                raise CommandError("A process of the team stopped while starting (its output is above).")
            for port in list(waiting):
                try:
                    if http.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                        waiting.discard(port)
                except requests.RequestException:  # not listening yet, or busy starting
                    pass
            time.sleep(0.3)
        if waiting:
            raise CommandError(f"The instances on {sorted(waiting)} did not answer within 60 seconds.")
