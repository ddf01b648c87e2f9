"""Webhooks: Slack- and Teams-compatible JSON, signed, posted by the worker to a real receiver on loopback."""

from __future__ import annotations

import time

import pytest

from core import notify
from tests.notifications.helpers import PENDING, send_committed
from tests.notify_servers import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def test_it_posts_text_slack_and_teams_show_plus_fields_they_ignore(
    webhook_receiver, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND, settings.EMAIL_HOST = "django.core.mail.backends.smtp.EmailBackend", ""  # webhooks only
    [row] = send_committed(django_capture_on_commit_callbacks)
    assert (row.channel, row.address) == ("webhook", webhook_receiver.url)

    assert notify.deliver_due() == 1

    [post] = webhook_receiver.requests
    assert post.path == "/hooks/T0001/B0002/s3cr3t-webhook-path"
    assert post.headers["Content-Type"] == "application/json"
    link = f"{settings.PORTAL_URL}/access/requests/12/"
    assert post.json() == {
        "text": f"{PENDING.subject}\n{PENDING.body}\n{link}",
        "kind": "pending",
        "request_id": 12,
        "link": link,
    }
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)


def test_its_signature_verifies_with_the_secret_and_not_with_another(
    webhook_receiver, django_capture_on_commit_callbacks
):
    send_committed(django_capture_on_commit_callbacks)
    notify.deliver_due()

    [post] = webhook_receiver.requests
    timestamp = int(post.headers["X-Jitportal-Timestamp"])
    assert abs(time.time() - timestamp) < 60
    assert post.headers["X-Jitportal-Signature"].startswith("sha256=")
    assert post.verifies(WEBHOOK_SECRET)
    assert not post.verifies("another-secret")
    assert not notify.verify_signature(
        WEBHOOK_SECRET, str(timestamp), post.body + b" ", post.headers["X-Jitportal-Signature"]
    )  # a changed body
    assert not notify.verify_signature(
        WEBHOOK_SECRET, str(timestamp), post.body, post.headers["X-Jitportal-Signature"], now=timestamp + 600
    )  # a replay ten minutes later


def test_the_signature_is_the_documented_hmac(webhook_receiver, django_capture_on_commit_callbacks):
    """A receiver in another language computes exactly this (docs/architecture.md, Notifications)."""
    import hashlib
    import hmac

    send_committed(django_capture_on_commit_callbacks)
    notify.deliver_due()

    [post] = webhook_receiver.requests
    timestamp = post.headers["X-Jitportal-Timestamp"]
    expected = hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + post.body, hashlib.sha256).hexdigest()
    assert post.headers["X-Jitportal-Signature"] == f"sha256={expected}"


def test_without_a_secret_posts_go_unsigned(webhook_receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_SECRET = ""
    send_committed(django_capture_on_commit_callbacks)
    notify.deliver_due()

    [post] = webhook_receiver.requests
    assert "X-Jitportal-Signature" not in post.headers


def test_a_webhook_removed_from_the_settings_is_not_posted_to(
    webhook_receiver, settings, django_capture_on_commit_callbacks
):
    [_, row] = send_committed(django_capture_on_commit_callbacks)
    settings.WEBHOOK_URLS = []

    notify.deliver_due()

    row.refresh_from_db()
    assert row.status == "failed" and "no longer configured" in row.last_error
    assert webhook_receiver.requests == []
