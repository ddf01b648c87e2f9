"""E-mail, delivered by the worker to a real SMTP server on loopback."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from core import notify
from core.models import Notification
from core.notify import Message, Recipient
from tests.notifications.helpers import HANA, PENDING, send_committed

pytestmark = pytest.mark.django_db


def test_it_sends_the_subject_the_body_and_the_link_on_its_own_line(smtp_server, django_capture_on_commit_callbacks):
    [row] = send_committed(django_capture_on_commit_callbacks)
    assert smtp_server.messages == []  # nothing inline: the worker sends

    assert notify.deliver_due() == 1

    [received] = smtp_server.messages
    assert received["Subject"] == PENDING.subject
    assert received["To"] == "hana@contoso.test"
    assert received["From"] == settings.DEFAULT_FROM_EMAIL
    assert received["Auto-Submitted"] == "auto-generated"
    lines = received.get_content().splitlines()
    assert "alice@contoso.test asks for port 22 on web-01 for 1 h." in lines and "Why: patch openssl" in lines
    assert f"{settings.PORTAL_URL}/access/requests/12/" in lines
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    assert row.sent_at is not None


def test_the_link_is_absolute_and_asks_for_sign_in(smtp_server, django_capture_on_commit_callbacks):
    send_committed(django_capture_on_commit_callbacks)
    notify.deliver_due()

    link = smtp_server.messages[0].get_content().splitlines()[-1]
    parts = urlsplit(link)
    assert parts.scheme in ("http", "https") and parts.netloc and not parts.query and not parts.fragment
    response = Client().get(parts.path)  # nobody signed in
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/sign-in"


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.example/x",
        "//evil.example/x",
        "access/requests/12/",
        "/access/requests/12/?token=abc",
        "/access/#x",
        "/access/ x",
    ],
)
def test_it_refuses_anything_but_a_portal_path(path):
    with pytest.raises(ValueError):
        notify.send(Message("pending", "s", "b", path=path), [HANA])
    assert not Notification.objects.exists()


@pytest.mark.parametrize("kind", ["", "k" * 41])
def test_it_refuses_a_kind_that_is_not_a_short_word(kind):
    with pytest.raises(ValueError):
        notify.send(Message(kind, "s", "b", path="/access/"), [HANA])


def test_one_email_per_distinct_address_and_none_without_one(smtp_server, django_capture_on_commit_callbacks):
    rows = send_committed(
        django_capture_on_commit_callbacks,
        recipients=[
            HANA,
            Recipient(None, "Hana@Contoso.test"),
            Recipient(None, ""),
            Recipient(None, "not an address"),
            Recipient(None, "ivan@contoso.test"),
        ],
    )
    assert [r.address for r in rows] == ["hana@contoso.test", "ivan@contoso.test"]

    assert notify.deliver_due() == 2
    assert sorted(m["To"] for m in smtp_server.messages) == ["hana@contoso.test", "ivan@contoso.test"]


def test_a_newline_in_the_subject_cannot_add_a_header(smtp_server, django_capture_on_commit_callbacks):
    message = Message("pending", "Hello\nBcc: mallory@evil.example", "body", path="/access/")
    send_committed(django_capture_on_commit_callbacks, message)
    notify.deliver_due()

    [received] = smtp_server.messages
    assert received["Bcc"] is None and smtp_server.envelope_recipients == [["hana@contoso.test"]]
    assert received["Subject"] == "Hello Bcc: mallory@evil.example"


def test_what_was_sent_about_a_request_is_listed_oldest_first(
    smtp_server, webhook_receiver, django_capture_on_commit_callbacks
):
    first = send_committed(django_capture_on_commit_callbacks)
    second = send_committed(django_capture_on_commit_callbacks, Message("decision", "Approved", "Yes", 12, "/access/"))
    send_committed(django_capture_on_commit_callbacks, Message("decision", "Other", "x", 13, "/access/"))

    about = list(notify.sent_about(12))
    assert about == first + second
    assert [(n.kind, n.channel) for n in about] == [
        ("pending", "email"),
        ("pending", "webhook"),
        ("decision", "email"),
        ("decision", "webhook"),
    ]
    assert about[1].destination == "127.0.0.1"  # a webhook shows only its host


def test_without_an_email_host_in_production_only_webhooks_are_queued(
    settings, webhook_receiver, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND, settings.EMAIL_HOST = "django.core.mail.backends.smtp.EmailBackend", ""
    rows = send_committed(django_capture_on_commit_callbacks)
    assert [r.channel for r in rows] == ["webhook"]
