"""Email delivery survives faults: a lease on the claim, read before claim, retries on transient errors only."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError
from django.utils import timezone

from cxrecovery.celery import app as celery_app
from notifications import services, tasks
from notifications.models import Notification
from notifications.services import notices

pytestmark = pytest.mark.django_db


def _pending(agent, **fields) -> Notification:
    return Notification.objects.create(recipient=agent, title="Escalated", url="/complaints/", **fields)


def test_email_deliver_claims_with_a_lease_and_clears_it_when_sent(agent, mailoutbox, monkeypatch):
    notification = _pending(agent)
    seen: dict = {}

    def send(*args, **kwargs):
        seen["row"] = Notification.objects.values("email_state", "email_lease_until", "email_attempts").get()

    monkeypatch.setattr(notices, "send_mail", send)

    assert services.notification_email_deliver(notification_id=notification.pk) is True

    # while sending, the row was claimed until the lease's end
    assert seen["row"]["email_state"] == "sending" and seen["row"]["email_attempts"] == 1
    assert seen["row"]["email_lease_until"] > timezone.now() + timedelta(seconds=59)
    notification.refresh_from_db()
    assert (notification.email_state, notification.email_lease_until) == ("sent", None)


def test_email_deliver_leaves_a_live_lease_alone(agent, mailoutbox):
    notification = _pending(
        agent, email_state="sending", email_attempts=1, email_lease_until=timezone.now() + timedelta(minutes=1)
    )

    assert services.notification_email_deliver(notification_id=notification.pk) is False
    assert mailoutbox == []


def test_email_deliver_reclaims_a_send_whose_worker_crashed(agent, mailoutbox):
    # given: a worker claimed the row and died (the lease ran out, the row still says "sending")
    notification = _pending(
        agent, email_state="sending", email_attempts=1, email_lease_until=timezone.now() - timedelta(seconds=1)
    )

    # when: the sweep finds it and its task runs (twice: one email)
    assert services.notification_email_requeue_stale() == [notification.pk]
    tasks.notification_email_task(notification.pk)
    tasks.notification_email_task(notification.pk)

    # then
    assert len(mailoutbox) == 1
    notification.refresh_from_db()
    assert (notification.email_state, notification.email_attempts) == ("sent", 2)


def test_email_deliver_reads_before_claiming_so_a_dropped_connection_leaves_it_pending(agent, monkeypatch):
    notification = _pending(agent)
    monkeypatch.setattr(
        Notification.objects, "select_related", mock.Mock(side_effect=OperationalError("connection lost"))
    )

    with pytest.raises(OperationalError):
        services.notification_email_deliver(notification_id=notification.pk)

    notification.refresh_from_db()
    assert (notification.email_state, notification.email_attempts) == ("pending", 0)


def test_email_failure_on_the_last_attempt_marks_it_failed(agent, settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.FailingBackend"
    notification = _pending(agent, email_attempts=services.MAX_EMAIL_ATTEMPTS - 1)

    with pytest.raises(OSError):
        services.notification_email_deliver(notification_id=notification.pk)

    notification.refresh_from_db()
    assert (notification.email_state, notification.email_lease_until) == ("failed", None)
    assert services.notification_email_requeue_stale() == []


def test_email_sweep_marks_a_crashed_last_attempt_failed(agent):
    notification = _pending(
        agent,
        email_state="sending",
        email_attempts=services.MAX_EMAIL_ATTEMPTS,
        email_lease_until=timezone.now() - timedelta(seconds=1),
    )

    assert services.notification_email_requeue_stale() == []
    notification.refresh_from_db()
    assert notification.email_state == "failed"


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPServerDisconnected("gone"),
        smtplib.SMTPDataError(451, b"try later"),
        TimeoutError("timed out"),
        OperationalError("server closed the connection unexpectedly"),
    ],
    ids=["smtp-disconnected", "smtp-4xx", "timeout", "db-dropped"],
)
def test_email_task_retries_transient_errors_with_backoff(agent, monkeypatch, error):
    notification = _pending(agent)
    monkeypatch.setattr(services, "notification_email_deliver", mock.Mock(side_effect=error))
    retry = mock.Mock(side_effect=RuntimeError("retry scheduled"))
    monkeypatch.setattr(tasks.notification_email_task, "retry", retry)

    with mock.patch.object(tasks.notification_email_task.request, "is_eager", False, create=True):
        with pytest.raises(RuntimeError, match="retry scheduled"):
            tasks.notification_email_task.run(notification.pk)

    assert retry.call_args.kwargs["exc"] is error
    assert 2.5 <= retry.call_args.kwargs["countdown"] <= 5


def test_email_task_does_not_retry_a_programming_error(agent, monkeypatch):
    monkeypatch.setattr(services, "notification_email_deliver", mock.Mock(side_effect=KeyError("bug")))
    retry = mock.Mock()
    monkeypatch.setattr(tasks.notification_email_task, "retry", retry)

    with pytest.raises(KeyError):
        tasks.notification_email_task.run(1)

    retry.assert_not_called()


def test_email_retry_countdown_grows_and_is_capped():
    assert all(2.5 <= tasks.retry_countdown(0) <= 5 for _ in range(20))
    assert all(20 <= tasks.retry_countdown(3) <= 40 for _ in range(20))
    assert all(tasks.retry_countdown(20) <= tasks.RETRY_MAX_SECONDS for _ in range(20))


def test_email_task_goes_to_its_own_queue_and_smtp_has_a_timeout():
    route = celery_app.amqp.router.route({}, tasks.notification_email_task.name)

    assert route["queue"].name == django_settings.CELERY_EMAIL_QUEUE != django_settings.CELERY_TASK_DEFAULT_QUEUE
    assert 0 < django_settings.EMAIL_TIMEOUT <= 60
    assert services.email_lease() >= timedelta(seconds=8 * django_settings.EMAIL_TIMEOUT)


def test_email_sweep_keeps_going_when_one_email_fails_in_process(agent, settings, mailoutbox, monkeypatch):
    # given: two emails left pending, and (in-process, no broker) the first send fails
    old = timezone.now() - timedelta(minutes=10)
    first, second = _pending(agent), _pending(agent)
    Notification.objects.update(created_at=old)
    real = notices.send_mail
    calls: list[int] = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise smtplib.SMTPServerDisconnected("gone")
        return real(*args, **kwargs)

    monkeypatch.setattr(notices, "send_mail", flaky)

    # when
    queued = tasks.notification_email_sweep_task()

    # then: the second is sent, the first waits for the next sweep
    assert queued == 1 and len(mailoutbox) == 1
    states = dict(Notification.objects.values_list("pk", "email_state"))
    assert states == {first.pk: "pending", second.pk: "sent"}
