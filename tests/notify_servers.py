"""Real servers on loopback for notification tests: an SMTP server (aiosmtpd) and a webhook receiver
(http.server on a thread). Each fixture points the portal's settings at its server for the test.

    def test_it_tells_the_approver(smtp_server, webhook_receiver, db, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            notify.send(Message("pending", "Approve?", "Alice asks", request_id=1, path="/access/"),
                        [Recipient(None, "hana@contoso.test")])
        notify.deliver_due()
        assert smtp_server.messages[0]["To"] == "hana@contoso.test"
        assert webhook_receiver.requests[0].json()["request_id"] == 1
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from core.notify import verify_signature

WEBHOOK_SECRET = "whsec-test-0123456789abcdef"  # what the receiver checks the portal's signatures with


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SmtpServer:
    """Messages the server accepted (parsed, newest last); `refuse_next(n)` answers 451 to the next n."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelope_recipients: list[list[str]] = field(default_factory=list)
    refusals_left: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse_next(self, count: int) -> None:
        with self.lock:
            self.refusals_left = count

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        with self.lock:
            if self.refusals_left:
                self.refusals_left -= 1
                return "451 4.3.0 Try again later"
            self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
            self.envelope_recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    """An SMTP server on 127.0.0.1 and a free port; the portal's EMAIL_* settings point at it."""
    server = SmtpServer("127.0.0.1", _free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "", ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield server
    controller.stop()


@dataclass(frozen=True)
class ReceivedPost:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def verifies(self, secret: str = WEBHOOK_SECRET) -> bool:
        """Whether its signature checks out with `secret`, as a receiver would check it."""
        return verify_signature(
            secret,
            self.headers.get("X-Jitportal-Timestamp", ""),
            self.body,
            self.headers.get("X-Jitportal-Signature", ""),
        )


class WebhookReceiver:
    """Records every POST; `fail_next(n, status)` answers `status` to the next n; `delay` holds each answer."""

    def __init__(self) -> None:
        self.requests: list[ReceivedPost] = []
        self.failures_left = 0
        self.failure_status = 500
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:  # received, whatever happens to the answer (a sender killed while it waits)
                    receiver.requests.append(ReceivedPost(self.path, dict(self.headers.items()), body))
                    status = 200
                    if receiver.failures_left:
                        receiver.failures_left -= 1
                        status = receiver.failure_status
                time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # The path stands for the secret part of a Slack or Teams webhook URL.
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T0001/B0002/s3cr3t-webhook-path"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def fail_next(self, count: int, status: int = 500) -> None:
        with self.lock:
            self.failures_left, self.failure_status = count, status

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver(settings):
    """A webhook receiver on 127.0.0.1; WEBHOOK_URLS holds its URL and WEBHOOK_SECRET the test secret."""
    receiver = WebhookReceiver()
    settings.WEBHOOK_URLS = [receiver.url]
    settings.WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    yield receiver
    receiver.stop()
