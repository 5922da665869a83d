"""Reads for the integrations pages."""

from __future__ import annotations

import uuid

from django.db.models import Count, Max, Q, QuerySet

from tickets.helpdesks.models import HelpdeskConnection, HelpdeskDelivery, HelpdeskWriteback

DELIVERY_LOG_LIMIT = 100


def connection_list() -> QuerySet[HelpdeskConnection]:
    return HelpdeskConnection.objects.annotate(
        last_delivery_at=Max("deliveries__received_at"),
        failed_count=Count("deliveries", filter=Q(deliveries__result=HelpdeskDelivery.Result.FAILED)),
    ).order_by("name")


def connection_by_public_id(public_id: str | uuid.UUID, *, active_only: bool = False) -> HelpdeskConnection | None:
    try:
        value = uuid.UUID(str(public_id))
    except ValueError:
        return None
    queryset = HelpdeskConnection.objects.filter(public_id=value)
    if active_only:
        queryset = queryset.filter(active=True)
    return queryset.first()


def delivery_log(connection: HelpdeskConnection, *, result: str = "") -> QuerySet[HelpdeskDelivery]:
    queryset = connection.deliveries.select_related("complaint").defer("body")
    if result in HelpdeskDelivery.Result.values:
        queryset = queryset.filter(result=result)
    return queryset.order_by("-received_at", "-id")[:DELIVERY_LOG_LIMIT]


def delivery_counts(connection: HelpdeskConnection) -> dict[str, int]:
    rows = connection.deliveries.values("result").annotate(n=Count("id")).order_by()
    counts = {result: 0 for result in HelpdeskDelivery.Result.values}
    counts.update({row["result"]: row["n"] for row in rows})
    return counts


WRITEBACK_LOG_LIMIT = 50


def writeback_log(connection: HelpdeskConnection) -> QuerySet[HelpdeskWriteback]:
    """The connection's recent write-backs with their delivery (state, attempts, last error) and event type."""
    return (
        HelpdeskWriteback.objects.filter(connection=connection)
        .select_related("delivery", "delivery__event")
        .defer("delivery__event__body")
        .order_by("-created_at", "-delivery_id")[:WRITEBACK_LOG_LIMIT]
    )
