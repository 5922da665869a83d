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
