from __future__ import annotations

import pytest

from notifications import services, tasks
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_notice_send_with_same_dedupe_key_creates_once(agent):
    first = services.notice_send(recipient=agent, title="Escalated", dedupe_key="esc:1")
    second = services.notice_send(recipient=agent, title="Escalated", dedupe_key="esc:1")

    assert first is not None and second is None
    assert Notification.objects.count() == 1


def test_notification_email_task_run_twice_sends_once(agent, mailoutbox):
    notification = Notification.objects.create(recipient=agent, title="Hello", url="/complaints/")

    assert tasks.notification_email_task(notification.pk) is True
    assert tasks.notification_email_task(notification.pk) is False

    assert len(mailoutbox) == 1
    notification.refresh_from_db()
    assert notification.email_state == Notification.EmailState.SENT
    assert "http://" in mailoutbox[0].body and "/complaints/" in mailoutbox[0].body


def test_notice_without_recipient_email_is_not_emailed(agent, mailoutbox, django_capture_on_commit_callbacks):
    agent.email = ""
    agent.save()

    with django_capture_on_commit_callbacks(execute=True):
        notification = services.notice_send(recipient=agent, title="Hi")

    assert notification.email_state == Notification.EmailState.SKIPPED
    assert mailoutbox == []


def test_email_failure_leaves_notice_pending_for_retry(agent, settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.FailingBackend"
    notification = Notification.objects.create(recipient=agent, title="Hello")

    with pytest.raises(OSError):
        services.notification_email_deliver(notification_id=notification.pk)

    notification.refresh_from_db()
    assert (notification.email_state, notification.email_attempts) == ("pending", 1)


def test_broker_outage_does_not_fail_the_write(agent, django_capture_on_commit_callbacks, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.notification_email_task, "apply_async", broken)

    with django_capture_on_commit_callbacks(execute=True):
        notification = services.notice_send(recipient=agent, title="Hi")

    assert Notification.objects.filter(pk=notification.pk, email_state="pending").exists()


def test_unread_count_and_mark_read(agent):
    from notifications.selectors import notification_unread_count

    services.notice_send(recipient=agent, title="a", email=False)
    services.notice_send(recipient=agent, title="b", email=False)
    assert notification_unread_count(recipient=agent) == 2
    services.notification_mark_read(recipient=agent)
    assert notification_unread_count(recipient=agent) == 0
