"""Writes for notifications: create a notice (once per dedupe key), deliver its email (once)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from cxrecovery.queue import enqueue_on_commit
from notifications.models import Notification

logger = logging.getLogger(__name__)
MAX_EMAIL_ATTEMPTS = 5


@transaction.atomic
def notice_send(
    *, recipient, title: str, body: str = "", url: str = "", dedupe_key: str | None = None, email: bool = True
) -> Notification | None:
    """Create an in-app notice and queue its email after commit.

    Returns None when a notice with the same dedupe_key already exists for this recipient,
    so callers may call it again safely.
    """
    email_wanted = email and bool(recipient.email)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient=recipient,
                title=title[:200],
                body=body,
                url=url[:500],
                dedupe_key=dedupe_key,
                email_state=Notification.EmailState.PENDING if email_wanted else Notification.EmailState.SKIPPED,
            )
    except IntegrityError:
        return None
    if email_wanted:
        from notifications.tasks import notification_email_task

        enqueue_on_commit(notification_email_task, notification.pk)
    return notification


def notification_email_deliver(*, notification_id: int) -> bool:
    """Send the notice's email. Safe to run twice: only the run that claims the row sends.

    Returns True when this call sent the email.
    """
    claimed = Notification.objects.filter(
        pk=notification_id, email_state=Notification.EmailState.PENDING
    ).update(email_state=Notification.EmailState.SENDING)
    if not claimed:
        return False
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    link = f"{settings.SITE_URL}{notification.url}" if notification.url.startswith("/") else notification.url
    try:
        send_mail(
            subject=f"[CX Recovery] {notification.title}",
            message=f"{notification.body}\n\n{link}\n\nSign in to act on it. You are receiving this because of your role in CX Recovery.".strip(),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[notification.recipient.email],
        )
    except Exception:
        attempts = notification.email_attempts + 1
        state = Notification.EmailState.FAILED if attempts >= MAX_EMAIL_ATTEMPTS else Notification.EmailState.PENDING
        Notification.objects.filter(pk=notification_id).update(email_state=state, email_attempts=attempts)
        raise
    Notification.objects.filter(pk=notification_id).update(
        email_state=Notification.EmailState.SENT, emailed_at=timezone.now(), email_attempts=notification.email_attempts + 1
    )
    return True


def notification_email_requeue_stale(*, older_than: timedelta = timedelta(minutes=2)) -> list[int]:
    """Ids of notices still waiting for email (their task was lost, e.g. a broker outage)."""
    cutoff = timezone.now() - older_than
    # A row stuck in "sending" after a crashed worker goes back to pending.
    Notification.objects.filter(email_state=Notification.EmailState.SENDING, created_at__lt=cutoff - older_than).update(
        email_state=Notification.EmailState.PENDING
    )
    return list(
        Notification.objects.filter(email_state=Notification.EmailState.PENDING, created_at__lt=cutoff)
        .values_list("pk", flat=True)[:1000]
    )


@transaction.atomic
def notification_mark_read(*, recipient, notification_ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=recipient, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=notification_ids)
    return qs.update(read_at=timezone.now())
