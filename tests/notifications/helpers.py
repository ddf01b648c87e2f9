"""What the notification tests share: a message about request 12, its recipients, and sending it for real
(the caller's transaction commits, so the delivery task is queued)."""

from __future__ import annotations

from core import notify
from core.notify import Message, Recipient

PENDING = Message(
    kind="pending",
    subject="Alice asks for SSH to web-01",
    body="alice@contoso.test asks for port 22 on web-01 for 1 h.\nWhy: patch openssl",
    request_id=12,
    path="/access/requests/12/",
)
HANA = Recipient(None, "hana@contoso.test")


def send_committed(capture, message: Message = PENDING, recipients=(HANA,)):
    """send() inside a transaction that commits (pytest-django's capture runs the on-commit callbacks)."""
    with capture(execute=True) as callbacks:
        rows = notify.send(message, list(recipients))
    assert len(callbacks) == 1  # the delivery task, queued once the caller's change is saved
    return rows
