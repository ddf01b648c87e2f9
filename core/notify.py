"""Notifications: an outbox written in the sender's transaction, delivered by the worker by e-mail and webhooks.

Callers (the approval workflow) compose a `Message` and call `send()` inside their own transaction: one
`Notification` row per recipient and per configured webhook is saved with their change, and a
`deliver_notifications` task is queued when (and only when) that transaction commits. Nothing is sent
inline, so a slow SMTP server or webhook never slows a person's click, and a rolled-back change sends
nothing. The worker claims due rows one at a time under a short lease (several workers may run), sends,
and records the outcome; failures are retried with exponential backoff (1, 2, 4, 8, 16 minutes), and the
sixth failure, or a webhook's 4xx other than 408/429, marks the row failed.

What is sent holds the caller's plain text and one link: `PORTAL_URL` + a portal path, to a page that asks
for sign-in. Never a token, a session or a link that acts by itself. Errors are kept short and never hold
a secret (the SMTP password, the webhook secret, a webhook URL's path).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Min, QuerySet
from django.utils import timezone
from django_tasks import task

from core.leases import claim, release
from core.models import Notification
from core.schedule import run_at

logger = logging.getLogger("core.notify")

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)  # then 2, 4, 8, 16 minutes
RETRY_AFTER_CAP = timedelta(hours=1)  # a webhook's Retry-After is honoured up to this
SIGNATURE_TOLERANCE_SECONDS = 300  # what `verify_signature` accepts as the age of a timestamp
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@dataclass(frozen=True)
class Message:
    kind: str  # "pending", "decision", "break_glass", "ending_soon", "pending_expired", "ended", ...
    subject: str
    body: str  # plain text, written by the caller
    request_id: int | None = None  # the AccessRequest it is about
    path: str = ""  # a portal path such as "/access/requests/12/"; made absolute with settings.PORTAL_URL


@dataclass(frozen=True)
class Recipient:
    user_pk: int | None
    address: str  # an e-mail address


def send(message: Message, recipients: Iterable[Recipient]) -> list[Notification]:
    """Queue `message` for each distinct recipient by e-mail (when e-mail is configured) and for each configured
    webhook; saved in the caller's transaction, delivered by the worker after it commits.

    Recipients without a valid address are skipped (logged); an address given twice gets one e-mail. A path
    that is not a plain portal path (no scheme, host, query or fragment), or a kind that is empty or longer
    than 40 characters, is a caller's bug: ValueError.
    """
    if not 0 < len(message.kind) <= 40:
        raise ValueError(f"A notification's kind is a short word such as 'pending', not {message.kind!r}")
    link = _link(message.path)
    subject = " ".join(message.subject.split())[:255]  # one line: a newline in a header is refused
    common = {
        "kind": message.kind,
        "subject": subject,
        "body": message.body,
        "link": link,
        "request_id": message.request_id,
    }
    rows: list[Notification] = []
    with transaction.atomic():
        if email_enabled():
            for recipient in _distinct(recipients):
                rows.append(
                    Notification.objects.create(
                        channel=Notification.Channel.EMAIL,
                        recipient_user_id=recipient.user_pk,
                        address=recipient.address,
                        **common,
                    )
                )
        for url in settings.WEBHOOK_URLS:
            rows.append(Notification.objects.create(channel=Notification.Channel.WEBHOOK, address=url, **common))
    if rows:
        transaction.on_commit(_enqueue_delivery)
    return rows


def sent_about(request_id: int) -> QuerySet[Notification]:
    """Everything queued about one access request, by any channel and in any state, oldest first."""
    return Notification.objects.filter(request_id=request_id).select_related("recipient_user").order_by("created", "pk")


def deliver_due(now: datetime | None = None) -> int:
    """Deliver every notification due at `now` (default: now); the number attempted.

    Each row is claimed under a lease before it is sent and released with its outcome, so two workers at
    once never send the same row, and a row whose worker died is taken up again once its lease lapses.
    No database transaction is open while a message is sent.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    attempted = 0
    while (notification := _claim(now, token)) is not None:
        attempted += 1
        _deliver(notification, now, token)
    return attempted


@task()
def deliver_notifications() -> int:
    """The worker's job: deliver what is due, then leave one run waiting for the next retry, if any."""
    attempted = deliver_due()
    schedule_next_delivery()
    return attempted


def schedule_next_delivery() -> bool:
    """Queue a delivery run for the earliest queued notification unless one is booked by then; True if queued."""
    due = Notification.objects.filter(status=Notification.Status.QUEUED).aggregate(at=Min("next_attempt_at"))["at"]
    return due is not None and run_at(deliver_notifications, due)


def email_enabled() -> bool:
    """E-mail is sent unless the backend is SMTP with no EMAIL_HOST (a deployment that set up webhooks only)."""
    return settings.EMAIL_BACKEND != SMTP_BACKEND or bool(settings.EMAIL_HOST)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Jitportal-Signature value: "sha256=" + hex HMAC-SHA256(secret, b"<timestamp>." + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None) -> bool:
    """What a receiver does: recompute the signature over the raw body, compare in constant time, and refuse
    a timestamp more than five minutes away from its own clock (a replayed post)."""
    try:
        moment = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - moment) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, moment, body), signature or "")


# --- internals ----------------------------------------------------------------------------------------------


class _Failure(Exception):
    """A delivery that did not happen: `permanent` ones are not retried; `retry_after` delays the next try."""

    def __init__(self, reason: str, permanent: bool = False, retry_after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason, self.permanent, self.retry_after = reason, permanent, retry_after


def _link(path: str) -> str:
    if not path:
        return ""
    parts = urlsplit(path)
    if (
        not path.startswith("/")
        or path.startswith("//")
        or parts.scheme
        or parts.netloc
        or parts.query
        or parts.fragment
        or any(c.isspace() for c in path)
    ):
        raise ValueError(f"A notification links to a portal path such as /access/requests/12/, not {path!r}")
    return settings.PORTAL_URL + path


def _distinct(recipients: Iterable[Recipient]) -> list[Recipient]:
    seen: set[str] = set()
    found = []
    for recipient in recipients:
        address = (recipient.address or "").strip()
        try:
            validate_email(address)
        except ValidationError:
            logger.warning(
                "A notification recipient (user %s) has no valid e-mail address; skipped.", recipient.user_pk
            )
            continue
        if address.lower() not in seen:
            seen.add(address.lower())
            found.append(Recipient(recipient.user_pk, address))
    return found


def _enqueue_delivery() -> None:
    try:
        deliver_notifications.enqueue()
    except Exception as exc:  # the committed rows stay queued: the housekeeping sweep delivers them
        logger.warning("Could not queue notification delivery (%s); the next sweep will.", type(exc).__name__)


def _lease() -> timedelta:
    # One message at a time: SMTP's few round trips, each within EMAIL_TIMEOUT, or one webhook post.
    return timedelta(seconds=5 * max(settings.EMAIL_TIMEOUT, settings.WEBHOOK_TIMEOUT_SECONDS) + 60)


def _claim(now: datetime, token: str) -> Notification | None:
    """Take the lease on the next due notification that nobody holds and count the attempt; None when none is
    due and free. The lease (`core.leases`, named after the row) lapses on its own if this worker dies."""
    due = (
        Notification.objects.filter(status=Notification.Status.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)
    )
    for pk in due.iterator(chunk_size=100):
        if claim(_lease_name(pk), token, "a notification worker", _lease().total_seconds(), now) is None:
            # Sent or given up by another worker between the read and the claim: not due any more.
            if Notification.objects.filter(pk=pk, status=Notification.Status.QUEUED).update(attempts=F("attempts") + 1):
                return Notification.objects.get(pk=pk)
            release(_lease_name(pk), token, forget=True)
    return None


def _lease_name(pk: int) -> str:
    return f"notification {pk}"


def _deliver(notification: Notification, now: datetime, token: str) -> None:
    try:
        if notification.channel == Notification.Channel.EMAIL:
            _send_email(notification)
        else:
            _post_webhook(notification)
    except _Failure as failure:
        _record_failure(notification, now, token, failure)
    except Exception as exc:  # a bug or an unexpected library error: retried like any failure, never a crash
        _record_failure(notification, now, token, _Failure(f"{type(exc).__name__}: {exc}"))
    else:
        Notification.objects.filter(pk=notification.pk).update(
            status=Notification.Status.SENT, sent_at=now, last_error=""
        )
        release(_lease_name(notification.pk), token, forget=True)
        logger.info(
            "Notification %s (%s) sent by %s to %s.",
            notification.pk,
            notification.kind,
            notification.channel,
            notification.destination,
        )


def _record_failure(notification: Notification, now: datetime, token: str, failure: _Failure) -> None:
    reason = _scrub(failure.reason, notification)
    final = failure.permanent or notification.attempts >= MAX_ATTEMPTS
    wait = FIRST_RETRY * 2 ** (notification.attempts - 1)
    if failure.retry_after:
        wait = max(wait, min(failure.retry_after, RETRY_AFTER_CAP))
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.FAILED if final else Notification.Status.QUEUED,
        next_attempt_at=notification.next_attempt_at if final else now + wait,
        last_error=reason,
    )
    release(_lease_name(notification.pk), token, forget=True)
    logger.warning(
        "Notification %s (%s) by %s to %s: attempt %s failed (%s); %s.",
        notification.pk,
        notification.kind,
        notification.channel,
        notification.destination,
        notification.attempts,
        reason,
        "given up" if final else f"next try in {int(wait.total_seconds() // 60)} min",
    )


def _scrub(reason: str, notification: Notification) -> str:
    """A short error that names no secret: no password, no webhook secret, no webhook URL beyond its host."""
    secrets = [settings.EMAIL_HOST_PASSWORD, settings.WEBHOOK_SECRET, *settings.WEBHOOK_URLS]
    if notification.channel == Notification.Channel.WEBHOOK:
        secrets.append(notification.address)
        secrets.append(urlsplit(notification.address).path)
    for secret in sorted(filter(lambda s: s and len(s) > 1, secrets), key=len, reverse=True):
        reason = reason.replace(secret, "[redacted]")
    return " ".join(reason.split())[:300]


def _send_email(notification: Notification) -> None:
    body = notification.body.rstrip() + (f"\n\n{notification.link}\n" if notification.link else "\n")
    email = EmailMessage(
        subject=notification.subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.address],
        headers={"Auto-Submitted": "auto-generated"},
        connection=get_connection(fail_silently=False),
    )
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise _Failure(
            f"the SMTP server refused the recipient ({', '.join(map(str, codes))})",
            permanent=all(code >= 500 for code in codes),
        ) from None
    except smtplib.SMTPResponseException as exc:
        detail = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise _Failure(f"SMTP {exc.smtp_code}: {detail.splitlines()[0] if detail else ''}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise _Failure(f"{type(exc).__name__}: {exc}") from None


def _post_webhook(notification: Notification) -> None:
    if notification.address not in settings.WEBHOOK_URLS:
        raise _Failure("this webhook is no longer configured (WEBHOOK_URLS)", permanent=True)
    text = "\n".join(filter(None, [notification.subject, notification.body.rstrip(), notification.link]))
    body = json.dumps(
        {"text": text, "kind": notification.kind, "request_id": notification.request_id, "link": notification.link}
    ).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "jitportal"}
    if settings.WEBHOOK_SECRET:
        timestamp = int(time.time())
        headers |= {
            "X-Jitportal-Timestamp": str(timestamp),
            "X-Jitportal-Signature": sign(settings.WEBHOOK_SECRET, timestamp, body),
        }
    try:
        answer = requests.post(
            notification.address,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
    except requests.Timeout:
        raise _Failure(f"no answer within {settings.WEBHOOK_TIMEOUT_SECONDS} s") from None
    except requests.ConnectionError:
        raise _Failure("could not connect") from None
    except requests.RequestException as exc:
        raise _Failure(type(exc).__name__) from None
    if 200 <= answer.status_code < 300:
        return
    if answer.status_code in (408, 429) or answer.status_code >= 500:
        raise _Failure(f"HTTP {answer.status_code}", retry_after=_retry_after(answer))
    raise _Failure(f"HTTP {answer.status_code} (not retried)", permanent=True)


def _retry_after(answer: requests.Response) -> timedelta | None:
    value = answer.headers.get("Retry-After", "")
    return timedelta(seconds=int(value)) if value.isdigit() else None
