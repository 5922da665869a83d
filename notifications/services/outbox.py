"""The outbox of domain events: what is published, for which webhook endpoints, and the deliveries queued."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications.delivery import SENDERS, TARGET_KINDS
from notifications.models import Delivery, OutboundEmail, OutboxEvent, WebhookEndpoint
from notifications.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

BULK_ENQUEUE_LIMIT = 200


SUBSCRIPTIONS_CACHE_KEY = "notifications:webhook-subscriptions:v1"
SUBSCRIPTIONS_CACHE_SECONDS = 30


def _subscribed_types() -> frozenset[str]:
    """Event types some active endpoint wants ("*" for an endpoint that wants all), cached so that publishing
    an event nobody wants costs no query. Endpoint writes clear it; another process without a shared cache
    sees a change within SUBSCRIPTIONS_CACHE_SECONDS."""
    # The cache only saves a query: when it cannot be reached, ask the database (a complaint must never fail
    # because Redis is down).
    types = _cache_call(cache.get, SUBSCRIPTIONS_CACHE_KEY)
    if types is None:
        types = set()
        for events in WebhookEndpoint.objects.filter(active=True).values_list("events", flat=True):
            types.update(events or ["*"])
        types = frozenset(types)
        _cache_call(cache.set, SUBSCRIPTIONS_CACHE_KEY, types, SUBSCRIPTIONS_CACHE_SECONDS)
    return types


def _cache_call(method: Any, *args: Any) -> Any:
    try:
        return method(*args)
    except Exception as exc:  # noqa: BLE001 - any cache backend error: fall back, never fail the caller's write
        logger.warning("Webhook subscriptions cache unavailable (%s: %s); reading the database", type(exc).__name__, exc)
        return None


def subscriptions_changed() -> None:
    _cache_call(cache.delete, SUBSCRIPTIONS_CACHE_KEY)
    transaction.on_commit(lambda: _cache_call(cache.delete, SUBSCRIPTIONS_CACHE_KEY))


def _active_endpoints_for(event_type: str) -> list[WebhookEndpoint]:
    wanted = _subscribed_types()
    if "*" not in wanted and event_type not in wanted:
        return []
    # The table is small (a handful of endpoints); filtering the JSON list in Python works on every database.
    return [endpoint for endpoint in WebhookEndpoint.objects.filter(active=True) if endpoint.wants(event_type)]


def event_wanted(type: str) -> bool:  # noqa: A002
    """True when some active endpoint (or another target kind, e.g. a helpdesk's write-back) may want this event
    type: lets a publisher skip building payloads nobody will receive. From the cached subscriptions: no query."""
    wanted = _subscribed_types()
    return "*" in wanted or type in wanted or any(kind.wants(type) for kind in TARGET_KINDS.values())


def _new_event(event_type: str, data: Mapping[str, Any], version: int, now: datetime) -> OutboxEvent:
    return OutboxEvent(
        msg_id=f"msg_{uuid.uuid4().hex}",
        type=event_type,
        version=version,
        created_at=now,
        body={"type": event_type, "version": version, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": dict(data)},
    )


def event_publish(*, type: str, data: Mapping[str, Any], version: int = 1) -> OutboxEvent | None:  # noqa: A002
    """Write one domain event to the outbox, with one delivery per subscribed endpoint, in the caller's
    transaction: a rolled-back write leaves no event, a committed one always has its deliveries.

    Call it inside the atomic service that made the change. `data` must be JSON-ready. Returns None when
    no active endpoint subscribes to this type (nothing is stored: events are kept for delivery, not as an
    audit trail — the complaint timeline is that). Delivery tasks are queued after commit; the sweep
    catches any whose task was lost.
    """
    return (events_publish_many(type=type, items=[data], version=version) or [None])[0]


def events_publish_many(*, type: str, items: Iterable[Mapping[str, Any]], version: int = 1) -> list[OutboxEvent]:  # noqa: A002
    """event_publish for many events of one type at once (a sweep settling many windows): bulk inserts,
    and one sweep queued after commit instead of a task per delivery when there are many."""
    items = list(items)
    endpoints = _active_endpoints_for(type) if items else []
    # Other target kinds (a helpdesk's write-back) choose per event: the complaint's source decides.
    kinds = {name: kind for name, kind in TARGET_KINDS.items() if items and kind.wants(type)}
    extra = [[(name, ref) for name, kind in kinds.items() for ref in kind.targets(type, data)] for data in items]
    wanted = [i for i in range(len(items)) if endpoints or extra[i]]
    if not wanted:
        return []
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        events = OutboxEvent.objects.bulk_create([_new_event(type, items[i], version, now) for i in wanted], batch_size=500)
        if not events[0].pk:
            by_msg = {e.msg_id: e for e in OutboxEvent.objects.filter(msg_id__in=[e.msg_id for e in events])}
            events = [by_msg[e.msg_id] for e in events]
        deliveries = Delivery.objects.bulk_create(
            [Delivery(event=event, endpoint=endpoint, next_attempt_at=now) for event in events for endpoint in endpoints],
            batch_size=500,
        )
        deliveries += _extra_deliveries(events, [extra[i] for i in wanted], now)
    deliveries_enqueue([d.pk for d in deliveries if d.pk] if len(deliveries) <= BULK_ENQUEUE_LIMIT else [])
    return events


def _extra_deliveries(events: list[OutboxEvent], targets: list[list[tuple[str, str]]], now: datetime) -> list[Delivery]:
    """Deliveries to other target kinds, each recorded by its kind (attach) in this transaction."""
    pairs = [(Delivery(event=event, endpoint=None, target_kind=kind, next_attempt_at=now), kind, ref)
             for event, wanted in zip(events, targets, strict=True) for kind, ref in wanted]
    if not pairs:
        return []
    created = Delivery.objects.bulk_create([delivery for delivery, _, _ in pairs], batch_size=500)
    if created and not created[0].pk:  # a database that returns no ids from a bulk insert
        for delivery in created:
            delivery.save()
    by_kind: dict[str, list[tuple[Delivery, str]]] = {}
    for delivery, kind, ref in pairs:
        by_kind.setdefault(kind, []).append((delivery, ref))
    for kind, attached in by_kind.items():
        TARGET_KINDS[kind].attach(attached)
    return [delivery for delivery, _, _ in pairs]


@transaction.atomic
def delivery_create(*, type: str, data: Mapping[str, Any], target_kind: str, version: int = 1) -> Delivery:  # noqa: A002
    """One event for one target of another kind only (a reply to post through a helpdesk): stored in the
    outbox with its delivery, sent after commit with the same retries, log and sweep as webhooks. The caller
    records which target the delivery is for."""
    if target_kind not in SENDERS:
        raise ValueError(f"no sender registered for target kind {target_kind!r}")
    now = timezone.now()
    event = _new_event(type, data, version, now)
    event.save()
    delivery = Delivery.objects.create(event=event, endpoint=None, target_kind=target_kind, next_attempt_at=now)
    deliveries_enqueue([delivery.pk])
    return delivery


def deliveries_enqueue(delivery_ids: list[int]) -> None:
    from notifications.tasks import webhook_deliveries_sweep_task, webhook_delivery_task

    if delivery_ids:
        for delivery_id in delivery_ids:
            enqueue_on_commit(webhook_delivery_task, delivery_id)
    else:
        enqueue_on_commit(webhook_deliveries_sweep_task, 0)


# The tables sent through a claim: each has a State with PENDING and SENDING, next_attempt_at, claimed_at, and an
# index on (state, next_attempt_at). A Protocol cannot state the nested State choices, so this names the tables.
Sendable = type[Delivery] | type[OutboundEmail]


def send_claim(model: Sendable, pk: int, now: datetime) -> bool:
    """Claim a due row (a webhook delivery, a customer email) for one send: True for the one run that gets it."""
    return bool(
        model.objects.filter(pk=pk, state=model.State.PENDING, next_attempt_at__lte=now).update(
            state=model.State.SENDING, claimed_at=now
        )
    )


def sends_due(model: Sendable, *, now: datetime, stale_after: timedelta, grace: timedelta, limit: int) -> list[int]:
    """Ids of the `model` rows (webhook deliveries, customer emails) to (re)send, oldest due first: retries now
    due, and work whose task was lost. A claim older than `stale_after` (a worker that died mid-send) is released
    first and is due at once; `grace` leaves a just-queued row to its own task."""
    model.objects.filter(state=model.State.SENDING, claimed_at__lt=now - stale_after).update(
        state=model.State.PENDING, next_attempt_at=F("claimed_at"), claimed_at=None
    )
    return list(
        model.objects.filter(state=model.State.PENDING, next_attempt_at__lte=now - grace)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
