from __future__ import annotations

import logging
import random

from celery import shared_task

from notifications import services

logger = logging.getLogger(__name__)

# Waits between tries: 5 s, 10 s, 20 s, 40 s (each less a random part, so a burst does not retry in step).
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 300


def retry_countdown(retries: int) -> float:
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**retries)
    return random.uniform(ceiling / 2, ceiling)


@shared_task(bind=True, acks_late=True, max_retries=services.MAX_EMAIL_ATTEMPTS - 1)
def notification_email_task(self, notification_id: int) -> bool:
    """Send one notice's email (on the email queue). Retries transient errors with backoff."""
    try:
        return services.notification_email_deliver(notification_id=notification_id)
    except services.TRANSIENT_EMAIL_ERRORS as exc:
        if self.request.is_eager:
            # In-process (no broker) a retry would hold the web request; the email sweep sends it later.
            raise
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries))


@shared_task
def notification_email_sweep_task() -> int:
    """Re-queue emails whose task never ran (broker outage) or whose send's lease ran out (killed worker)."""
    queued = 0
    for notification_id in services.notification_email_requeue_stale():
        try:
            notification_email_task.delay(notification_id)
            queued += 1
        except Exception:  # noqa: BLE001 - the broker or (in-process) the mail server failing: the next sweep tries again
            logger.warning("Could not send or queue the email of notice %s; the next sweep retries it", notification_id)
    return queued


# Retries this soon are queued with a countdown; later ones wait for the sweep (a broker holding a task for hours
# is fragile: Redis re-delivers unacknowledged ETA tasks after its visibility timeout).
QUICK_RETRY_SECONDS = 300


def _eager() -> bool:
    from celery import current_app

    return bool(current_app.conf.task_always_eager)


@shared_task(acks_late=True)
def webhook_delivery_task(delivery_id: int) -> str:
    """One attempt at one delivery; runs on the `webhooks` queue so a slow receiver never delays other work."""
    outcome = services.delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None and outcome.retry_in <= QUICK_RETRY_SECONDS and not _eager():
        webhook_delivery_task.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.state


@shared_task
def webhook_deliveries_sweep_task(grace_seconds: float = 30) -> int:
    """Queue deliveries whose retry is due or whose task was lost, and customer emails likewise."""
    from datetime import timedelta

    ids = services.webhook_deliveries_due(grace=timedelta(seconds=grace_seconds))
    for delivery_id in ids:
        webhook_delivery_task.delay(delivery_id)
    email_ids = services.outbound_emails_due(grace=timedelta(seconds=grace_seconds))
    for email_id in email_ids:
        outbound_email_task.delay(email_id)
    return len(ids) + len(email_ids)


@shared_task(acks_late=True)
def outbound_email_task(email_id: int) -> str:
    outcome = services.outbound_email_send(email_id=email_id)
    if outcome.retry_in is not None and outcome.retry_in <= QUICK_RETRY_SECONDS and not _eager():
        outbound_email_task.apply_async((email_id,), countdown=outcome.retry_in)
    return outcome.state
