"""Delivery by the worker: after commit only, retried with backoff, given up after six tries, once each with
two workers at once, and no secret in an error or a log line."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core import leases, notify
from core.models import Notification
from core.notify import Message, Recipient
from tests.notifications.helpers import HANA, PENDING, send_committed
from tests.notify_servers import WEBHOOK_SECRET


@pytest.fixture
def webhooks_only(settings):
    settings.EMAIL_BACKEND, settings.EMAIL_HOST = "django.core.mail.backends.smtp.EmailBackend", ""


def _queued_deliveries() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path=notify.deliver_notifications.module_path, status=TaskResultStatus.READY)
    )


@pytest.mark.django_db
def test_a_webhook_answering_500_twice_is_retried_after_1_then_2_minutes(
    webhook_receiver, webhooks_only, django_capture_on_commit_callbacks
):
    [row] = send_committed(django_capture_on_commit_callbacks)
    webhook_receiver.fail_next(2, 500)
    start = timezone.now()

    assert notify.deliver_due(start) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("queued", 1, "HTTP 500")
    assert row.next_attempt_at == start + timedelta(minutes=1)
    assert notify.deliver_due(start + timedelta(seconds=59)) == 0  # not yet due

    assert notify.deliver_due(start + timedelta(minutes=1)) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("queued", 2)
    assert row.next_attempt_at == start + timedelta(minutes=1 + 2)

    assert notify.deliver_due(start + timedelta(minutes=3)) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")
    assert len(webhook_receiver.requests) == 3
    assert notify.deliver_due(start + timedelta(hours=1)) == 0  # sent is sent


@pytest.mark.django_db
def test_six_failures_and_it_is_given_up(webhook_receiver, webhooks_only, django_capture_on_commit_callbacks):
    [row] = send_committed(django_capture_on_commit_callbacks)
    webhook_receiver.fail_next(100, 503)
    moment, waits = timezone.now(), []

    for _ in range(6):
        assert notify.deliver_due(moment) == 1
        row.refresh_from_db()
        waits.append(row.next_attempt_at - moment)
        moment = row.next_attempt_at

    assert (row.status, row.attempts, row.last_error) == ("failed", 6, "HTTP 503")
    assert waits[:5] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]
    assert notify.deliver_due(moment + timedelta(days=1)) == 0
    assert len(webhook_receiver.requests) == 6


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "retried"), [(400, False), (404, False), (410, False), (408, True), (429, True)])
def test_a_4xx_fails_at_once_except_408_and_429(
    webhook_receiver, webhooks_only, status, retried, django_capture_on_commit_callbacks
):
    [row] = send_committed(django_capture_on_commit_callbacks)
    webhook_receiver.fail_next(1, status)

    notify.deliver_due()

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("queued" if retried else "failed", 1)
    assert row.last_error.startswith(f"HTTP {status}")


@pytest.mark.django_db
def test_an_email_refused_for_now_is_retried(smtp_server, django_capture_on_commit_callbacks, settings):
    settings.WEBHOOK_URLS = []
    [row] = send_committed(django_capture_on_commit_callbacks)
    smtp_server.refuse_next(1)
    start = timezone.now()

    notify.deliver_due(start)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.last_error.startswith("SMTP 451")

    notify.deliver_due(start + timedelta(minutes=1))
    row.refresh_from_db()
    assert row.status == "sent" and len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_an_unreachable_smtp_server_is_retried(settings, django_capture_on_commit_callbacks):
    from tests.notify_servers import _free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 2
    settings.WEBHOOK_URLS = []
    [row] = send_committed(django_capture_on_commit_callbacks)

    notify.deliver_due()

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("queued", 1)
    assert "ConnectionRefusedError" in row.last_error


@pytest.mark.django_db
def test_nothing_is_queued_or_sent_when_the_callers_transaction_rolls_back(
    smtp_server, webhook_receiver, django_capture_on_commit_callbacks
):
    class Refused(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Refused), transaction.atomic():
            assert len(notify.send(PENDING, [HANA])) == 2
            raise Refused

    assert callbacks == []
    assert not Notification.objects.exists()
    assert notify.deliver_due() == 0
    assert smtp_server.messages == [] and webhook_receiver.requests == []


@pytest.mark.django_db
def test_send_queues_the_delivery_task_on_commit_only(smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify.send(PENDING, [HANA])
        assert _queued_deliveries() == []
    assert _queued_deliveries() == []  # not run: the change is not committed
    for callback in callbacks:
        callback()
    assert len(_queued_deliveries()) == 1
    assert smtp_server.messages == []  # still not inline


@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_and_waits_to_retry(smtp_server, webhook_receiver):
    webhook_receiver.fail_next(1, 500)
    with transaction.atomic():
        notify.send(PENDING, [HANA])

    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)

    assert len(smtp_server.messages) == 1 and len(webhook_receiver.requests) == 1
    webhook = Notification.objects.get(channel="webhook")
    assert (webhook.status, webhook.attempts) == ("queued", 1)
    [retry] = _queued_deliveries()  # the run for the retry, a minute on
    assert retry.run_after == webhook.next_attempt_at
    assert notify.schedule_next_delivery() is False  # one waiting run is enough


@pytest.mark.django_db(transaction=True)
def test_housekeeping_sweeps_up_what_is_due(webhook_receiver, webhooks_only):
    from jitportal.tasks import housekeeping

    with transaction.atomic():
        notify.send(PENDING, [])
    DBTaskResult.objects.all().delete()  # the delivery task was lost

    housekeeping.call()

    assert len(webhook_receiver.requests) == 1
    assert Notification.objects.get().status == "sent"


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_deliver_each_notification_once(smtp_server, webhook_receiver):
    webhook_receiver.delay = 0.02  # each post takes a while, so that the two workers overlap
    with transaction.atomic():
        for number in range(12):
            notify.send(
                Message("pending", f"Request {number}", "b", number, "/access/"),
                [Recipient(None, f"approver{number}@contoso.test")],
            )
    counts, errors = [], []

    def worker() -> None:
        try:
            counts.append(notify.deliver_due())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(counts) == 24 and all(counts)  # both worked, and together attempted each once
    assert sorted(p.json()["request_id"] for p in webhook_receiver.requests) == list(range(12))
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(f"approver{n}@contoso.test" for n in range(12))
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_worker_is_taken_up_when_its_lease_lapses(
    webhook_receiver, webhooks_only, django_capture_on_commit_callbacks
):
    [row] = send_committed(django_capture_on_commit_callbacks)
    start = timezone.now()
    assert leases.claim(f"notification {row.pk}", "dead-worker", "a worker that died", 120) is None

    assert notify.deliver_due(start) == 0
    assert notify.deliver_due(start + timedelta(minutes=3)) == 1
    row.refresh_from_db()
    assert row.status == "sent" and len(webhook_receiver.requests) == 1


@pytest.mark.django_db
def test_no_secret_reaches_an_error_or_a_log_line(
    smtp_server, webhook_receiver, settings, caplog, django_capture_on_commit_callbacks
):
    password = "smtp-Pa55word-never-shown"
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "portal", password  # the server offers no AUTH
    webhook_receiver.fail_next(100, 500)
    send_committed(django_capture_on_commit_callbacks)
    settings.WEBHOOK_URLS = [webhook_receiver.url, f"http://127.0.0.1:1/hooks/{WEBHOOK_SECRET}/x"]  # refused
    notify.send(PENDING, [])

    with caplog.at_level(logging.DEBUG):
        start = timezone.now()
        for minutes in (0, 1, 3):
            notify.deliver_due(start + timedelta(minutes=minutes))

    errors = list(Notification.objects.values_list("last_error", flat=True))
    assert all(errors) and len(errors) == 4
    said = "\n".join(errors) + "\n" + caplog.text
    for secret in (password, WEBHOOK_SECRET, "s3cr3t-webhook-path", "/hooks/"):
        assert secret not in said
    assert "127.0.0.1" in caplog.text  # the host is named, so that an operator knows which webhook


class _LeakyMail:
    """An e-mail backend whose error names the password, as some libraries' do."""

    def __init__(self, **_):
        pass

    def send_messages(self, messages):
        from django.conf import settings

        raise OSError(f"535 login portal:{settings.EMAIL_HOST_PASSWORD} refused")


@pytest.mark.django_db
def test_an_error_that_names_a_secret_is_stored_and_logged_without_it(
    settings, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    """The other test's failures carry fixed words; these carry the secrets themselves, so only the redaction
    keeps them out of the row and the log."""
    password, url = "smtp-Pa55word-never-shown", f"http://127.0.0.1:1/hooks/{WEBHOOK_SECRET}/x"
    settings.EMAIL_HOST_PASSWORD, settings.WEBHOOK_URLS = password, [url]
    settings.EMAIL_BACKEND = f"{__name__}._LeakyMail"

    def leaky_post(address, **_):
        raise ValueError(f"cannot post to {address}")

    monkeypatch.setattr(notify.requests, "post", leaky_post)
    send_committed(django_capture_on_commit_callbacks)
    with caplog.at_level(logging.DEBUG):
        notify.deliver_due(timezone.now())

    errors = list(Notification.objects.values_list("last_error", flat=True))
    assert len(errors) == 2 and all("[redacted]" in e for e in errors), errors
    said = "\n".join(errors) + "\n" + caplog.text
    assert password not in said and WEBHOOK_SECRET not in said and "/hooks/" not in said
