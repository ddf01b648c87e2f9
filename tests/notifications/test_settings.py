"""Notification settings from the environment, and the checks that stop a production portal sending links
to nowhere."""

from __future__ import annotations

import secrets

from tests.test_deploy_settings import AZURE, _manage

PRODUCTION = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "jit.example.com",
    "DJANGO_SETTINGS_MODULE": "jitportal.settings",
    **AZURE,
}
PROBE = (
    "from django.conf import settings as s; "
    "print(s.EMAIL_BACKEND.rsplit('.', 2)[-2], s.PORTAL_URL or '-', len(s.WEBHOOK_URLS), s.EMAIL_TIMEOUT)"
)


def test_debug_prints_e_mail_on_the_console_and_links_to_the_local_portal():
    result = _manage("shell", "-c", PROBE, DJANGO_DEBUG="1", DJANGO_SETTINGS_MODULE="jitportal.settings", **AZURE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["console", "http://127.0.0.1:8000", "0", "10"]


def test_production_sends_by_smtp_and_needs_the_portals_address_once_notifications_are_configured():
    quiet = _manage("shell", "-c", PROBE, **PRODUCTION)
    assert quiet.returncode == 0, quiet.stderr  # nothing configured: nothing needed
    assert quiet.stdout.strip().splitlines()[-1].split() == ["smtp", "-", "0", "10"]

    for configured in ({"EMAIL_HOST": "smtp.example.com"}, {"WEBHOOK_URLS": "https://hooks.example.com/a"}):
        result = _manage("check", **PRODUCTION, **configured)
        assert result.returncode == 1 and "jitportal.E002" in result.stderr and "PORTAL_URL" in result.stderr


def test_a_configured_production_portal_passes_the_deployment_checks():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        EMAIL_HOST="smtp.example.com",
        PORTAL_URL="https://jit.example.com/",
        WEBHOOK_URLS="https://hooks.example.com/a, https://b.test/x",
        WEBHOOK_SECRET=secrets.token_urlsafe(32),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_warns_of_unsigned_webhooks():
    result = _manage(
        "check",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        PORTAL_URL="https://jit.example.com",
        WEBHOOK_URLS="https://hooks.example.com/a",
    )
    assert result.returncode == 1 and "jitportal.W001" in result.stderr and "WEBHOOK_SECRET" in result.stderr


def test_it_refuses_a_bad_address_without_repeating_a_webhook_url():
    bad_portal = _manage("check", **PRODUCTION, PORTAL_URL="jit.example.com")
    assert bad_portal.returncode != 0 and "PORTAL_URL must be" in bad_portal.stderr
    bad_hook = _manage(
        "check",
        **PRODUCTION,
        PORTAL_URL="https://jit.example.com",
        WEBHOOK_URLS="https://hooks.example.com/a,ftp://files.example.com/T0/B0/secretpart",
    )
    assert bad_hook.returncode != 0 and "WEBHOOK_URLS item 2" in bad_hook.stderr
    assert "secretpart" not in bad_hook.stderr
