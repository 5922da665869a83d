from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from notifications.models import Delivery, DeliveryAttempt, Notification, WebhookEndpoint


def notification_list(*, recipient) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=recipient).order_by("-created_at", "-id")


def notification_unread_count(*, recipient) -> int:
    return Notification.objects.filter(recipient=recipient, read_at__isnull=True).count()


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(deleted_at__isnull=True).order_by("-created_at", "-id")


def webhook_endpoint_get(*, endpoint_id: int) -> WebhookEndpoint | None:
    return webhook_endpoint_list().filter(pk=endpoint_id).first()


def webhook_deliveries(*, endpoint: WebhookEndpoint, state: str | None = None) -> QuerySet[Delivery]:
    """The endpoint's deliveries, newest first, with their event and every attempt (two queries a page)."""
    deliveries = (
        Delivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("-started_at", "-id")))
        .order_by("-created_at", "-id")
    )
    if state:
        deliveries = deliveries.filter(state=state)
    return deliveries


def webhook_delivery_get(*, endpoint: WebhookEndpoint, delivery_id: int) -> Delivery | None:
    return webhook_deliveries(endpoint=endpoint).filter(pk=delivery_id).first()


def webhook_endpoint_stats(*, endpoint_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries per state for each endpoint, in one query."""
    stats: dict[int, dict[str, int]] = {pk: {} for pk in endpoint_ids}
    rows = Delivery.objects.filter(endpoint_id__in=endpoint_ids).values("endpoint_id", "state").annotate(n=Count("id"))
    for row in rows:
        stats[row["endpoint_id"]][row["state"]] = row["n"]
    return stats
