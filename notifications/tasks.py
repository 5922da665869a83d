from __future__ import annotations

from celery import shared_task

from notifications import services


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=4)
def notification_email_task(notification_id: int) -> bool:
    return services.notification_email_deliver(notification_id=notification_id)


@shared_task
def notification_email_sweep_task() -> int:
    """Re-queue emails whose task never ran (broker outage, crashed worker)."""
    ids = services.notification_email_requeue_stale()
    for notification_id in ids:
        notification_email_task.delay(notification_id)
    return len(ids)
