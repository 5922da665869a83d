"""In-app notices and the emails that tell people about them, sent once each by Celery."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications.models import Notification
from notifications.queue import enqueue_on_commit

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


# Errors worth another try later: the mail server refused or timed out (smtplib's errors and socket timeouts are
# OSErrors), or the database dropped the connection.
TRANSIENT_EMAIL_ERRORS: tuple[type[BaseException], ...] = (OSError, OperationalError, InterfaceError)


def email_lease() -> timedelta:
    """How long a claim lasts: a whole SMTP conversation (connect and a handful of commands, each bounded by
    EMAIL_TIMEOUT) fits in it, so a live send is never claimed twice; a crashed one is claimed again after it."""
    return timedelta(seconds=max(60.0, 8 * float(settings.EMAIL_TIMEOUT or 10)))


def _claimable(now) -> Q:
    expired = Q(email_lease_until__lt=now) | Q(email_lease_until__isnull=True)
    return Q(email_state=Notification.EmailState.PENDING) | (Q(email_state=Notification.EmailState.SENDING) & expired)


def notification_email_deliver(*, notification_id: int) -> bool:
    """Send the notice's email. Safe to run twice and at once: only the run that claims the row sends.

    The row is read first and claimed with a lease (a conditional UPDATE), so a dropped connection before the
    claim leaves it pending, and a worker that dies after the claim leaves a lease that runs out; the email
    sweep then sends it. Delivery is at least once: if the database is lost between the mail server's "OK" and
    recording it, the email is sent again after the lease. Returns True when this call sent the email; raises
    the send's error (after putting the row back, or marking it failed after MAX_EMAIL_ATTEMPTS) for a retry.
    """
    notification = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    now = timezone.now()
    if notification is None or not Notification.objects.filter(_claimable(now), pk=notification_id).update(
        email_state=Notification.EmailState.SENDING,
        email_lease_until=now + email_lease(),
        email_attempts=F("email_attempts") + 1,
    ):
        return False
    attempts = notification.email_attempts + 1
    link = f"{settings.SITE_URL}{notification.url}" if notification.url.startswith("/") else notification.url
    try:
        # The SMTP backend takes its socket timeout from EMAIL_TIMEOUT.
        send_mail(
            subject=f"[CX Recovery] {notification.title}",
            message=f"{notification.body}\n\n{link}\n\nSign in to act on it. You are receiving this because of your role in CX Recovery.".strip(),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[notification.recipient.email],
        )
    except Exception as exc:
        state = Notification.EmailState.FAILED if attempts >= MAX_EMAIL_ATTEMPTS else Notification.EmailState.PENDING
        logger.warning("Email for notice %s failed (attempt %s of %s): %s: %s", notification_id, attempts,
                       MAX_EMAIL_ATTEMPTS, type(exc).__name__, exc)
        try:
            Notification.objects.filter(pk=notification_id, email_state=Notification.EmailState.SENDING).update(
                email_state=state, email_lease_until=None
            )
        except DatabaseError:
            logger.warning("Could not put notice %s back; its lease runs out and the sweep retries it", notification_id)
        raise
    _record_sent(notification_id)
    return True


def _record_sent(notification_id: int, tries: int = 3) -> None:
    """The email is out: record it, trying a few times over a dropped connection so it is not sent twice."""
    for attempt in range(1, tries + 1):
        try:
            _reconnect_if_broken()
            Notification.objects.filter(pk=notification_id, email_state=Notification.EmailState.SENDING).update(
                email_state=Notification.EmailState.SENT, emailed_at=timezone.now(), email_lease_until=None
            )
            return
        except (OperationalError, InterfaceError):
            if attempt == tries:
                logger.error("Notice %s was emailed but could not be recorded; it may be emailed again", notification_id)
                return
            time.sleep(0.5 * attempt)


def _reconnect_if_broken() -> None:
    # Outside a transaction a broken connection can be dropped and opened again on the next query.
    if not connection.in_atomic_block and connection.connection is not None and not connection.is_usable():
        connection.close()


def notification_email_requeue_stale(*, older_than: timedelta = timedelta(minutes=2)) -> list[int]:
    """Ids of notices whose email is still due: pending for a while (the task was lost to a broker outage), or
    claimed by a send whose lease ran out (the worker died mid-send). The task claims each again."""
    now = timezone.now()
    expired = Q(email_lease_until__lt=now) | Q(email_lease_until__isnull=True)
    # A send that crashed on its last allowed attempt is not tried again.
    Notification.objects.filter(
        expired, email_state=Notification.EmailState.SENDING, email_attempts__gte=MAX_EMAIL_ATTEMPTS
    ).update(email_state=Notification.EmailState.FAILED, email_lease_until=None)
    due = Q(email_state=Notification.EmailState.PENDING, created_at__lt=now - older_than) | (
        Q(email_state=Notification.EmailState.SENDING) & expired
    )
    return list(Notification.objects.filter(due).order_by("created_at").values_list("pk", flat=True)[:1000])


@transaction.atomic
def notification_mark_read(*, recipient, notification_ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=recipient, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=notification_ids)
    return qs.update(read_at=timezone.now())
