"""The notification outbox: one row per message and destination, written in the sender's transaction and
delivered afterwards by the worker (`core.notify`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils import timezone


class Notification(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "e-mail"
        WEBHOOK = "webhook", "webhook"

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    created = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    # An e-mail address, or a webhook URL (often a secret in itself, as Slack's are: show `destination`).
    address = models.CharField(max_length=1000)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    link = models.CharField(max_length=1000, blank=True)  # absolute: PORTAL_URL + the message's path
    request_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)  # an AccessRequest, no FK
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "jitportal_notification"  # its table since before the shared base had an app of its own
        ordering = ["created", "pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel} to {self.destination} ({self.status})"

    @property
    def destination(self) -> str:
        """Where it went, fit to show: the e-mail address, or only the host of a webhook URL."""
        if self.channel == self.Channel.WEBHOOK:
            return urlsplit(self.address).hostname or "webhook"
        return self.address


class Lease(models.Model):
    """A committed claim on a name that lapses on its own at `expires`: one policy's writes, the archive's
    collection, one notification's sending, a job's next run (`core.leases`). Never a database lock held across
    Azure calls or a send: other people's work never waits on it, and a holder that dies simply lets it lapse."""

    name = models.CharField(max_length=400, unique=True)
    holder = models.CharField(max_length=32, blank=True)
    holder_name = models.CharField(max_length=254, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    claims = models.PositiveIntegerField(default=0)
