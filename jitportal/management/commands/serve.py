"""`manage.py serve` (what `make serve` runs): the portal in the foreground, with the local Azure
sandbox when no Azure is configured.

Without AZURE_TENANT_ID it starts the sandbox (`python -m sandbox`, its own program), reads the
connection settings the sandbox publishes (`<data dir>/connection.env`), and runs the portal as a
child process with them in its environment, as a deployment passes its tenant's. Beside the portal it
runs a background worker (`manage.py db_worker`), as a deployment does. Ctrl-C or SIGTERM stops
everything, and so does the death of the process that started it.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.actions import ensure_demo_people
from requests_app.actions import ensure_demo_rule

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux for SIGTERM when our parent dies: `make serve` may be sent SIGTERM alone, and make
    does not pass it on."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def read_env_file(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#") and "=" in line)


def _sandbox_info(environment: dict[str, str]) -> dict | None:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override the sandbox's own CA
    try:
        answer = session.get(
            f"{environment['AZURE_ARM_URL']}/_sandbox/info", verify=environment["AZURE_CA_BUNDLE"], timeout=2
        )
        return answer.json() if answer.ok else None
    except (requests.RequestException, OSError, KeyError, ValueError):
        return None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _demo_settings(info: dict) -> dict[str, str]:
    """The demo's approval rules go on the sandbox's Production subscription (one Alice can skip in Azure) and on
    Shared services (enforced: only its approver and the admins can open ports there); Development stays
    self-service."""
    ids = {s.get("name"): s["id"] for s in info.get("subscriptions", [])}
    production, shared = ids.get("Contoso Production", ""), ids.get("Contoso Shared Services", "")
    if not production:
        return {}
    # The demo people, known to the portal from the start (see accounts.actions.ensure_demo_people).
    people = [
        [info["tenant_id"], p["object_id"], p["username"], p["display_name"], p["app_roles"]]
        for p in info.get("people", [])
    ]
    return {
        "JITPORTAL_DEMO_RULE_SUBSCRIPTION": production,
        "JITPORTAL_DEMO_ENFORCED_SUBSCRIPTION": shared,
        **({"JITPORTAL_DEMO_PEOPLE": json.dumps(people)} if people else {}),
    }


class Command(BaseCommand):
    help = "Run the portal until Ctrl-C; with no Azure configured, start the local sandbox for it."
    requires_system_checks = []  # the portal this starts runs the checks, with its Azure settings

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, port: int, **options) -> None:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        die_with_parent()
        children: list[subprocess.Popen] = []
        try:
            if settings.AZURE_TENANT_ID:
                self._run_portal(port, children)
                return
            environment = self._sandbox(children)
            children.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "serve", "--port", str(port)],
                    cwd=settings.BASE_DIR,
                    env={**os.environ, **environment},
                )
            )
            children[-1].wait()
        except KeyboardInterrupt:
            pass
        finally:
            # A second Ctrl-C or SIGTERM (the parent's death signal, say) must not cut the shutdown short.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for child in reversed(children):
                _stop(child)

    def _run_portal(self, port: int, children: list[subprocess.Popen]) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if demo_subscription := os.environ.get("JITPORTAL_DEMO_RULE_SUBSCRIPTION"):
            ensure_demo_people(json.loads(os.environ.get("JITPORTAL_DEMO_PEOPLE", "[]")))
            ensure_demo_rule(demo_subscription, os.environ.get("JITPORTAL_DEMO_ENFORCED_SUBSCRIPTION", ""))
        call_command("schedule_housekeeping", verbosity=0)
        # Its own process, as in production: a long job never holds up a page.
        children.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--no-reload", "--verbosity", "0"], cwd=settings.BASE_DIR
            )
        )
        self.stdout.write(self.style.SUCCESS(f"\njitportal is at http://127.0.0.1:{port}/"))
        self.stdout.write(
            f"Azure: tenant {settings.AZURE_TENANT_ID} via {settings.AZURE_AUTHORITY}. Press Ctrl-C to stop.\n"
        )
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True)

    def _sandbox(self, children: list[subprocess.Popen]) -> dict[str, str]:
        """The published settings of a sandbox answering on SANDBOX_PORT: the running one, or a new child."""
        data_dir = Path(os.environ.get("SANDBOX_DATA_DIR") or settings.BASE_DIR / "var" / "sandbox")
        sandbox_port = os.environ.get("SANDBOX_PORT", "8443")
        published = data_dir / "connection.env"
        if published.exists() and read_env_file(published).get("AZURE_ARM_URL", "").endswith(f":{sandbox_port}"):
            environment = read_env_file(published)
            if (info := _sandbox_info(environment)) is not None:
                self.stdout.write(f"Using the sandbox already running at {environment['AZURE_ARM_URL']}")
                self._announce(info)
                return {**environment, **_demo_settings(info)}
        published.unlink(missing_ok=True)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox",
                "--port",
                sandbox_port,
                "--data-dir",
                str(data_dir),
                "--quiet",
                "--exit-with-parent",
            ],
            cwd=settings.BASE_DIR,
        )
        children.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError(
                    f"The sandbox stopped (exit {process.returncode}); is port {sandbox_port} taken? "
                    "Set SANDBOX_PORT to another port."
                )
            if published.exists() and (info := _sandbox_info(environment := read_env_file(published))) is not None:
                self._announce(info)
                return {**environment, **_demo_settings(info)}
            time.sleep(0.2)
        raise CommandError("The sandbox did not answer within 30 seconds.")

    def _announce(self, info: dict) -> None:
        self.stdout.write(f"Azure: the local sandbox at {info.get('arm_url')}. Demo accounts (pick one at sign-in):")
        for person in info.get("people", []):
            roles = ", ".join(person.get("app_roles", [])) or "no portal role"
            self.stdout.write(
                f"  {person['display_name']:<14} {person['username']:<22} {roles:<14} {person['summary']}"
            )
