"""Production settings pass Django's deployment checks, and refuse to start without a secret key."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AZURE = {
    "AZURE_TENANT_ID": "11111111-2222-3333-4444-555555555555",
    "AZURE_CLIENT_ID": "app",
    "AZURE_CLIENT_SECRET": "s3cret",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AZURE_", "SANDBOX_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_passes_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="jit.example.com",
        DJANGO_SETTINGS_MODULE="jitportal.settings",
        **AZURE,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_names_missing_azure_settings():
    result = _manage("check", DJANGO_DEBUG="1", DJANGO_SETTINGS_MODULE="jitportal.settings")
    assert result.returncode == 1
    assert "jitportal.E001" in result.stderr and "AZURE_TENANT_ID" in result.stderr, result.stderr


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = _manage("check", DJANGO_SETTINGS_MODULE="jitportal.settings")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_real_azure_mode_is_configuration_only(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cret\n")
    probe = (
        "from django.conf import settings as s; "
        "print(s.AZURE_INSTANCE_DISCOVERY, s.AZURE_AUTHORITY, s.AZURE_ARM_URL, s.AZURE_CLIENT_SECRET, s.AZURE_CA_BUNDLE)"
    )
    result = _manage(
        "shell",
        "-c",
        probe,
        DJANGO_DEBUG="1",
        DJANGO_SETTINGS_MODULE="jitportal.settings",
        AZURE_TENANT_ID="11111111-2222-3333-4444-555555555555",
        AZURE_CLIENT_ID="app",
        AZURE_CLIENT_SECRET_FILE=str(secret_file),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "True",
        "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555",
        "https://management.azure.com",
        "s3cret",
        "None",
    ]


def test_it_refuses_to_start_in_production_with_a_weak_secret_key():
    for weak in ("short-but-varied-key", "ab" * 40):
        result = _manage(
            "check",
            DJANGO_SECRET_KEY=weak,
            DJANGO_ALLOWED_HOSTS="jit.example.com",
            DJANGO_SETTINGS_MODULE="jitportal.settings",
            **AZURE,
        )
        assert result.returncode != 0 and "DJANGO_SECRET_KEY is weak" in result.stderr, result.stderr[-500:]
    debug = _manage(
        "check", DJANGO_DEBUG="1", DJANGO_SECRET_KEY="dev", DJANGO_SETTINGS_MODULE="jitportal.settings", **AZURE
    )
    assert debug.returncode == 0, debug.stderr


def test_hsts_preload_only_when_the_setting_asks_for_it():
    probe = "from django.conf import settings as s; print(s.SECURE_HSTS_PRELOAD)"
    env = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_SETTINGS_MODULE": "jitportal.settings", **AZURE}
    assert _manage("shell", "-c", probe, **env).stdout.split()[-1] == "False"
    assert _manage("shell", "-c", probe, SECURE_HSTS_PRELOAD="1", **env).stdout.split()[-1] == "True"
