"""`manage.py serve`: the sandbox and the portal together in the foreground (what `make serve` runs).

Ctrl-C or SIGTERM stops both. With AZURE_TENANT_ID set (real Azure), no sandbox is started.
"""

from __future__ import annotations

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

from sandbox import demo
from sandbox.lifecycle import exit_with_parent


def _sandbox_answers(url: str, ca: str) -> bool:
    session = requests.Session()
    session.trust_env = False
    try:
        return session.get(f"{url}/_sandbox/info", verify=ca, timeout=1).ok
    except (requests.RequestException, OSError):
        return False


class Command(BaseCommand):
    help = "Run the sandbox (unless real Azure is configured) and the portal until Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, port: int, **options) -> None:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        exit_with_parent()
        sandbox = self._start_sandbox() if settings.AZURE_USE_SANDBOX else None
        try:
            call_command("migrate", interactive=False, verbosity=0)
            self._announce(port)
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True)
        except KeyboardInterrupt:
            pass
        finally:
            if sandbox is not None and sandbox.poll() is None:
                sandbox.terminate()
                try:
                    sandbox.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    sandbox.kill()

    def _start_sandbox(self) -> subprocess.Popen | None:
        url, ca = settings.AZURE_ARM_URL, settings.AZURE_CA_BUNDLE
        if Path(ca).exists() and _sandbox_answers(url, ca):
            self.stdout.write(f"Using the sandbox already running at {url}")
            return None
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(settings.SANDBOX_PORT), "--quiet", "--exit-with-parent"],
            cwd=settings.BASE_DIR)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError(f"The sandbox stopped (exit {process.returncode}); is port {settings.SANDBOX_PORT} "
                                   "taken? Set SANDBOX_PORT to another port.")
            if Path(ca).exists() and _sandbox_answers(url, ca):
                return process
            time.sleep(0.2)
        process.terminate()
        raise CommandError("The sandbox did not answer within 30 seconds.")

    def _announce(self, port: int) -> None:
        self.stdout.write(self.style.SUCCESS(f"\njitportal is at http://127.0.0.1:{port}/"))
        if settings.AZURE_USE_SANDBOX:
            self.stdout.write(f"Azure: the local sandbox at {settings.AZURE_ARM_URL}. Demo accounts (pick one at sign-in):")
            for person in demo.PEOPLE:
                roles = ", ".join(person.app_roles) or "no portal role"
                self.stdout.write(f"  {person.display_name:<14} {person.username:<22} {roles:<14} {person.summary}")
        else:
            self.stdout.write(f"Azure: tenant {settings.AZURE_TENANT_ID} via {settings.AZURE_AUTHORITY}")
        self.stdout.write("Press Ctrl-C to stop.\n")
