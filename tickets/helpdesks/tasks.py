from __future__ import annotations

from celery import shared_task

from tickets.helpdesks import services


@shared_task(name="tickets.helpdesk_delivery_process", acks_late=True)
def helpdesk_delivery_process_task(delivery_id: int) -> str:
    """Process one stored delivery. Safe twice: a processed delivery is left alone."""
    return services.delivery_process(delivery_id=delivery_id)


@shared_task(name="tickets.helpdesk_deliveries_sweep")
def helpdesk_deliveries_sweep_task() -> dict[str, int]:
    """Delete raw deliveries past their retention (set-based) and re-queue deliveries whose task never ran."""
    purged = services.deliveries_purge()
    stale = services.deliveries_stale_pending()
    for delivery_id in stale:
        helpdesk_delivery_process_task.delay(delivery_id)
    return {"purged": purged, "requeued": len(stale)}
